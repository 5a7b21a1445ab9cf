//! Runs one scenario of the load generator: `cargo run --release -p sockeye-loadgen --example
//! loadgen -- <scenario> [url] [clients]` (the `sockeye bench` subcommand does the same with
//! every option).

fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| "echo".to_owned());
    let Some(scenario) = sockeye_loadgen::Scenario::from_name(&scenario) else {
        eprintln!("unknown scenario {scenario}");
        std::process::exit(2);
    };
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3000/socket.io/".to_owned());
    let mut config = sockeye_loadgen::Config::new(url);
    config.clients = args.next().and_then(|c| c.parse().ok());
    config.server_pid = std::env::var("SERVER_PID")
        .ok()
        .and_then(|p| p.parse().ok());
    config.progress = true;
    let report = sockeye_loadgen::run_blocking(scenario, &config);
    println!("{}", sockeye_loadgen::table(std::slice::from_ref(&report)));
    println!("{}", report.json_line());
}
