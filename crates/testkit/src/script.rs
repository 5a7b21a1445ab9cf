//! A script a test drives (a Node or browser scenario) that prints its findings as one line
//! `RESULT <json>`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `command` for at most `timeout` and returns the JSON it printed after `RESULT `.
/// Its output is echoed (the test harness shows it for a failing test); a script that fails,
/// overruns or prints no result fails the test, naming `what`.
pub fn run_for_result(mut command: Command, what: &str, timeout: Duration) -> serde_json::Value {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    // Read on threads: a script that fills a pipe would otherwise block before it exits.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout is piped")));
    let err = read(Box::new(child.stderr.take().expect("stderr is piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    println!("{stdout}");
    eprintln!("{stderr}");
    let status = status.unwrap_or_else(|| panic!("{what} took more than {timeout:?}"));
    assert!(status.success(), "{what} failed ({status}):\n{stderr}");
    let line = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("{what} printed no RESULT line"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}'s RESULT is not JSON: {e}"))
}
