//! Chunked file uploads for Sockeye servers.
//!
//! A client sends a file as binary chunks, each with its offset; the server hands them to an
//! [`Upload`], which writes them to a file in one folder, hashing as it goes. What it guards:
//!
//! - **the folder**: a file name is one plain name ([`validate_name`]): no `..`, no separator,
//!   no absolute path, nothing empty, hidden or with control characters;
//! - **the size**: the declared size must be within [`UploadDir::max_size`], and no chunk may go
//!   past the declared size;
//! - **the order**: chunks must be contiguous; a chunk the upload already has (a client resending
//!   after a lost acknowledgement) is ignored, a gap is an error;
//! - **the content**: SHA-256 computed incrementally, checked at [`Upload::finish`] against the
//!   client's hash when it gives one, with the size.
//!
//! Until it is finished, an upload lives in a hidden partial file next to its final place
//! (`.NAME.SIZE.part`): when the connection drops, [`UploadDir::start`] with the same name and
//! size resumes from the bytes already on disk, and tells the client the next offset to send.
//!
//! ```
//! # fn main() -> Result<(), sockeye_upload::UploadError> {
//! use sockeye_upload::{Chunk, UploadDir};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let folder = tmp.path();
//! let uploads = UploadDir::new(folder)?.max_size(1 << 20);
//! let mut upload = uploads.start("hello.txt", 11)?;
//! assert_eq!(upload.next_offset(), 0);
//! assert_eq!(upload.write_chunk(0, b"hello ")?, Chunk::Written { next: 6 });
//! assert_eq!(upload.write_chunk(0, b"hello ")?, Chunk::Duplicate { next: 6 });
//! upload.write_chunk(6, b"world")?;
//! let done = upload.finish(None)?;
//! assert_eq!(std::fs::read(&done.path)?, b"hello world");
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// The default largest upload: 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;

/// The longest file name accepted, in bytes (the partial file adds a prefix and a suffix, and
/// file systems stop at 255).
pub const MAX_NAME_LEN: usize = 200;

/// Why a file name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("the file name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`] bytes.
    #[error("the file name is longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    /// The name is `.` or `..`.
    #[error("the file name may not be `.` or `..`")]
    DotDot,
    /// The name is an absolute path.
    #[error("the file name may not be an absolute path")]
    Absolute,
    /// The name holds a path separator (`/` or `\`) or a drive separator (`:`).
    #[error("the file name may not hold a path separator")]
    Separator,
    /// The name starts with a dot.
    #[error("the file name may not start with a dot (hidden file)")]
    Hidden,
    /// The name holds a control character (NUL, newline...).
    #[error("the file name may not hold control characters")]
    ControlChar,
}

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The file name is refused.
    #[error("invalid file name: {0}")]
    InvalidName(#[from] NameError),
    /// The declared size is over the limit.
    #[error("the file is too big: {size} bytes, the limit is {limit}")]
    TooLarge {
        /// The declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Another upload of the same file is in progress.
    #[error("an upload of {0} is already in progress")]
    Busy(String),
    /// The file exists and the folder does not overwrite.
    #[error("{0} exists already")]
    Exists(String),
    /// A chunk starts past the next expected offset.
    #[error("chunk at offset {offset} leaves a gap: the next expected offset is {expected}")]
    Gap {
        /// The next offset the upload expects.
        expected: u64,
        /// The offset of the chunk.
        offset: u64,
    },
    /// A chunk ends past the declared size.
    #[error("chunk ends at {end}, past the declared size {size}")]
    Overrun {
        /// Where the chunk ends.
        end: u64,
        /// The declared size.
        size: u64,
    },
    /// `finish` before every byte arrived.
    #[error("the upload is incomplete: {received} of {size} bytes")]
    Incomplete {
        /// Bytes received.
        received: u64,
        /// The declared size.
        size: u64,
    },
    /// The content's SHA-256 is not the one the client announced; the partial file is removed.
    #[error("SHA-256 mismatch: expected {expected}, the file has {actual}")]
    HashMismatch {
        /// The hash the client gave, in hex.
        expected: String,
        /// The hash of what arrived, in hex.
        actual: String,
    },
    /// Reading or writing the file failed.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
}

/// Checks that `name` is one plain file name, safe to join to the upload folder.
///
/// ```
/// use sockeye_upload::{NameError, validate_name};
///
/// assert!(validate_name("report.pdf").is_ok());
/// assert_eq!(validate_name(".."), Err(NameError::DotDot));
/// assert_eq!(validate_name("../etc/passwd"), Err(NameError::Separator));
/// assert_eq!(validate_name("/etc/passwd"), Err(NameError::Absolute));
/// ```
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if name == "." || name == ".." {
        return Err(NameError::DotDot);
    }
    if name.starts_with(['/', '\\']) || Path::new(name).is_absolute() {
        return Err(NameError::Absolute);
    }
    if name.contains(['/', '\\', ':']) {
        return Err(NameError::Separator);
    }
    if name.starts_with('.') {
        return Err(NameError::Hidden);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlChar);
    }
    Ok(())
}

/// Lower-case hex of a SHA-256 digest.
pub fn to_hex(digest: &[u8; 32]) -> String {
    use fmt::Write as _;
    digest
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Parses a SHA-256 digest written in hex (either case).
pub fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.as_bytes();
    if hex.len() != 64 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(digest)
}

/// The folder uploads go to, with its rules. Cheap to clone; clones share the set of uploads in
/// progress, so one file is never written by two uploads at once.
#[derive(Clone)]
pub struct UploadDir {
    dir: PathBuf,
    max_size: u64,
    overwrite: bool,
    active: Arc<Mutex<HashSet<String>>>,
}

impl fmt::Debug for UploadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadDir")
            .field("dir", &self.dir)
            .field("max_size", &self.max_size)
            .field("overwrite", &self.overwrite)
            .finish_non_exhaustive()
    }
}

impl UploadDir {
    /// Uploads into `dir` (created if missing), at most [`DEFAULT_MAX_SIZE`] each, replacing
    /// files that exist.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(UploadDir {
            dir,
            max_size: DEFAULT_MAX_SIZE,
            overwrite: true,
            active: Arc::default(),
        })
    }

    /// Sets the largest size an upload may declare, in bytes.
    #[must_use]
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Whether an upload may replace a file that exists (default true); when false, starting
    /// one fails with [`UploadError::Exists`].
    #[must_use]
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The largest size an upload may declare.
    pub fn limit(&self) -> u64 {
        self.max_size
    }

    fn check(&self, name: &str, size: u64) -> Result<(), UploadError> {
        validate_name(name)?;
        if size > self.max_size {
            return Err(UploadError::TooLarge {
                size,
                limit: self.max_size,
            });
        }
        Ok(())
    }

    fn partial_name(name: &str, size: u64) -> String {
        format!(".{name}.{size}.part")
    }

    /// The next offset of a partial upload of `name` with this size that was interrupted, if
    /// there is one on disk.
    pub fn partial_offset(&self, name: &str, size: u64) -> Result<Option<u64>, UploadError> {
        self.check(name, size)?;
        let path = self.dir.join(Self::partial_name(name, size));
        match fs::metadata(&path) {
            Ok(meta) if meta.len() <= size => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Starts the upload of `name`, `size` bytes long, or resumes it when an interrupted one
    /// left a partial file: [`Upload::next_offset`] tells where to go on from (the bytes on disk
    /// are hashed again, so the final hash covers the whole file).
    pub fn start(&self, name: &str, size: u64) -> Result<Upload, UploadError> {
        self.check(name, size)?;
        let final_path = self.dir.join(name);
        if !self.overwrite && final_path.exists() {
            return Err(UploadError::Exists(name.to_owned()));
        }
        let partial = Self::partial_name(name, size);
        let guard = ActiveGuard::claim(&self.active, &partial)
            .ok_or_else(|| UploadError::Busy(name.to_owned()))?;
        let partial_path = self.dir.join(&partial);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&partial_path)?;
        let mut hasher = Sha256::new();
        let mut next = file.metadata()?.len();
        if next > size {
            // Not this upload's: start again.
            file.set_len(0)?;
            next = 0;
        }
        if next > 0 {
            let mut buffer = vec![0u8; 1 << 20];
            let mut left = next;
            while left > 0 {
                let want = usize::try_from(left.min(buffer.len() as u64)).unwrap_or(buffer.len());
                let read = file.read(&mut buffer[..want])?;
                if read == 0 {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
                hasher.update(&buffer[..read]);
                left -= read as u64;
            }
        }
        file.seek(SeekFrom::Start(next))?;
        Ok(Upload {
            name: name.to_owned(),
            size,
            final_path,
            partial_path,
            file,
            next,
            resumed_from: next,
            hasher,
            _guard: guard,
        })
    }
}

/// Marks a partial file as being written; released on drop.
struct ActiveGuard {
    active: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl ActiveGuard {
    fn claim(active: &Arc<Mutex<HashSet<String>>>, key: &str) -> Option<ActiveGuard> {
        let mut set = active.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(key.to_owned()).then(|| ActiveGuard {
            active: active.clone(),
            key: key.to_owned(),
        })
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// What became of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Written (all of it, or the part the upload did not have yet).
    Written {
        /// The next offset expected.
        next: u64,
    },
    /// The upload had all of it already; nothing was written.
    Duplicate {
        /// The next offset expected.
        next: u64,
    },
}

impl Chunk {
    /// The next offset expected.
    pub fn next(self) -> u64 {
        match self {
            Chunk::Written { next } | Chunk::Duplicate { next } => next,
        }
    }
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Where the file is.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: [u8; 32],
}

/// One file being received. Dropping it keeps the partial file for a later resume; see
/// [`Upload::abort`] to remove it.
pub struct Upload {
    name: String,
    size: u64,
    final_path: PathBuf,
    partial_path: PathBuf,
    file: File,
    next: u64,
    resumed_from: u64,
    hasher: Sha256,
    _guard: ActiveGuard,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("next", &self.next)
            .field("resumed_from", &self.resumed_from)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// The file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next offset expected: how many bytes the upload has.
    pub fn next_offset(&self) -> u64 {
        self.next
    }

    /// The offset it started from: 0 for a new upload, more when it resumed a partial file.
    pub fn resumed_from(&self) -> u64 {
        self.resumed_from
    }

    /// Whether every byte arrived.
    pub fn is_complete(&self) -> bool {
        self.next == self.size
    }

    /// Writes the chunk that starts at `offset`. A chunk must start at or before the next
    /// expected offset ([`UploadError::Gap`] otherwise) and end within the declared size
    /// ([`UploadError::Overrun`]); the bytes the upload has already are skipped, so a chunk
    /// sent twice is harmless ([`Chunk::Duplicate`]).
    pub fn write_chunk(&mut self, offset: u64, data: &[u8]) -> Result<Chunk, UploadError> {
        let end = offset.saturating_add(data.len() as u64);
        if end > self.size {
            return Err(UploadError::Overrun {
                end,
                size: self.size,
            });
        }
        if offset > self.next {
            return Err(UploadError::Gap {
                expected: self.next,
                offset,
            });
        }
        if end <= self.next && !data.is_empty() {
            return Ok(Chunk::Duplicate { next: self.next });
        }
        let skip = usize::try_from(self.next - offset).unwrap_or(usize::MAX);
        let fresh = data.get(skip..).unwrap_or_default();
        self.file.write_all(fresh)?;
        self.hasher.update(fresh);
        self.next = end.max(self.next);
        Ok(Chunk::Written { next: self.next })
    }

    /// Checks the size, and the hash against `expected_sha256` when given, then moves the file
    /// to its final name. On a hash mismatch the partial file is removed (resuming it would
    /// only give the same bytes again).
    pub fn finish(mut self, expected_sha256: Option<&[u8; 32]>) -> Result<Finished, UploadError> {
        if self.next != self.size {
            return Err(UploadError::Incomplete {
                received: self.next,
                size: self.size,
            });
        }
        let sha256: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        match expected_sha256 {
            Some(expected) if *expected != sha256 => {
                drop(self.file);
                let _ = fs::remove_file(&self.partial_path);
                return Err(UploadError::HashMismatch {
                    expected: to_hex(expected),
                    actual: to_hex(&sha256),
                });
            }
            _ => {}
        }
        self.file.flush()?;
        self.file.sync_all()?;
        let on_disk = self.file.metadata()?.len();
        if on_disk != self.size {
            return Err(UploadError::Incomplete {
                received: on_disk,
                size: self.size,
            });
        }
        fs::rename(&self.partial_path, &self.final_path)?;
        Ok(Finished {
            path: self.final_path,
            size: self.size,
            sha256,
        })
    }

    /// Gives up: removes the partial file.
    pub fn abort(self) -> io::Result<()> {
        drop(self.file);
        fs::remove_file(&self.partial_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    fn folder() -> (tempfile::TempDir, UploadDir) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = UploadDir::new(tmp.path().join("uploads")).expect("upload dir");
        (tmp, dir)
    }

    /// Every file in the folder, hidden ones included.
    fn listing(dir: &UploadDir) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir.dir())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn whole_upload_in_chunks_has_the_right_bytes_and_hash() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let content = data(10_000);
        let mut upload = dir.start("file.bin", content.len() as u64)?;
        for (i, chunk) in content.chunks(1024).enumerate() {
            let written = upload.write_chunk(i as u64 * 1024, chunk)?;
            assert!(matches!(written, Chunk::Written { .. }));
        }
        assert!(upload.is_complete());
        let done = upload.finish(Some(&sha(&content)))?;
        assert_eq!(done.sha256, sha(&content));
        assert_eq!(done.size, 10_000);
        assert_eq!(fs::read(&done.path)?, content);
        assert_eq!(listing(&dir), ["file.bin"], "no partial file left");
        Ok(())
    }

    #[test]
    fn too_big_is_refused_at_start_and_nothing_is_created() {
        let (_tmp, dir) = folder();
        let dir = dir.max_size(1000);
        assert!(dir.start("ok.bin", 1000).is_ok());
        let error = dir.start("big.bin", 1001).expect_err("over the limit");
        assert!(
            matches!(
                error,
                UploadError::TooLarge {
                    size: 1001,
                    limit: 1000
                }
            ),
            "{error:?}"
        );
        assert!(!listing(&dir).iter().any(|n| n.contains("big")));
    }

    #[test]
    fn chunk_past_the_declared_size_is_refused() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let mut upload = dir.start("f", 10)?;
        upload.write_chunk(0, &[1; 8])?;
        let error = upload.write_chunk(8, &[1; 3]).expect_err("overrun");
        assert!(
            matches!(error, UploadError::Overrun { end: 11, size: 10 }),
            "{error:?}"
        );
        assert_eq!(upload.next_offset(), 8, "nothing written");
        // A huge offset does not overflow.
        assert!(matches!(
            upload.write_chunk(u64::MAX, &[1]),
            Err(UploadError::Overrun { .. })
        ));
        Ok(())
    }

    #[test]
    fn bad_names_are_refused() {
        let cases: &[(&str, NameError)] = &[
            ("", NameError::Empty),
            (".", NameError::DotDot),
            ("..", NameError::DotDot),
            ("../secret", NameError::Separator),
            ("a/../../b", NameError::Separator),
            ("..\\windows", NameError::Separator),
            ("dir/file", NameError::Separator),
            ("C:file", NameError::Separator),
            ("/etc/passwd", NameError::Absolute),
            ("\\\\server\\share", NameError::Absolute),
            (".bashrc", NameError::Hidden),
            (".x.10.part", NameError::Hidden),
            ("nul\0byte", NameError::ControlChar),
            ("new\nline", NameError::ControlChar),
            ("bell\u{7}", NameError::ControlChar),
            ("del\u{7f}", NameError::ControlChar),
        ];
        let (_tmp, dir) = folder();
        for (name, expected) in cases {
            assert_eq!(validate_name(name), Err(*expected), "{name:?}");
            let error = dir.start(name, 1).expect_err(name);
            assert!(
                matches!(error, UploadError::InvalidName(e) if e == *expected),
                "{name:?}: {error:?}"
            );
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert_eq!(validate_name(&long), Err(NameError::TooLong));
        assert!(validate_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
        for good in ["a", "a..b", "report 2024.pdf", "été.txt", "x.tar.gz", "-"] {
            assert_eq!(validate_name(good), Ok(()), "{good:?}");
        }
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    }

    #[test]
    fn dot_dot_cannot_escape_the_folder() {
        let (tmp, dir) = folder();
        for name in [
            "..",
            "../escape",
            "../../escape",
            "..\\escape",
            "x/../../escape",
        ] {
            assert!(
                matches!(dir.start(name, 4), Err(UploadError::InvalidName(_))),
                "{name:?}"
            );
        }
        // Dots inside a name are only dots: the file stays in the folder.
        let mut upload = dir.start("x..%2fescape", 4).expect("plain name");
        upload.write_chunk(0, b"data").expect("write");
        let done = upload.finish(None).expect("finish");
        assert_eq!(done.path.parent(), Some(dir.dir()));
        assert!(!tmp.path().join("escape").exists());
    }

    #[test]
    fn duplicate_chunk_is_ignored() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let content = data(3000);
        let mut upload = dir.start("dup.bin", 3000)?;
        assert_eq!(
            upload.write_chunk(0, &content[..1000])?,
            Chunk::Written { next: 1000 }
        );
        assert_eq!(
            upload.write_chunk(0, &content[..1000])?,
            Chunk::Duplicate { next: 1000 }
        );
        assert_eq!(
            upload.write_chunk(1000, &content[1000..2000])?,
            Chunk::Written { next: 2000 }
        );
        assert_eq!(
            upload.write_chunk(1000, &content[1000..2000])?,
            Chunk::Duplicate { next: 2000 }
        );
        // A chunk that overlaps: only its new part is written.
        assert_eq!(
            upload.write_chunk(1500, &content[1500..3000])?,
            Chunk::Written { next: 3000 }
        );
        let done = upload.finish(Some(&sha(&content)))?;
        assert_eq!(fs::read(done.path)?, content);
        Ok(())
    }

    #[test]
    fn gap_is_an_error_and_changes_nothing() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let content = data(3000);
        let mut upload = dir.start("gap.bin", 3000)?;
        upload.write_chunk(0, &content[..1000])?;
        let error = upload.write_chunk(2000, &content[2000..]).expect_err("gap");
        assert!(
            matches!(
                error,
                UploadError::Gap {
                    expected: 1000,
                    offset: 2000
                }
            ),
            "{error:?}"
        );
        assert_eq!(upload.next_offset(), 1000);
        upload.write_chunk(1000, &content[1000..])?;
        let done = upload.finish(Some(&sha(&content)))?;
        assert_eq!(fs::read(done.path)?, content);
        Ok(())
    }

    #[test]
    fn interrupted_upload_resumes_from_the_partial_file() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let content = data(5000);
        assert_eq!(dir.partial_offset("resume.bin", 5000)?, None);
        {
            let mut upload = dir.start("resume.bin", 5000)?;
            upload.write_chunk(0, &content[..1000])?;
            upload.write_chunk(1000, &content[1000..2500])?;
            // The connection drops: the upload is dropped, the partial file stays.
        }
        assert_eq!(dir.partial_offset("resume.bin", 5000)?, Some(2500));
        assert_eq!(
            dir.partial_offset("resume.bin", 4000)?,
            None,
            "another size is another upload"
        );
        let mut upload = dir.start("resume.bin", 5000)?;
        assert_eq!(upload.next_offset(), 2500);
        assert_eq!(upload.resumed_from(), 2500);
        // The client resends from where it thinks it was: the part already there is skipped.
        upload.write_chunk(2000, &content[2000..4000])?;
        upload.write_chunk(4000, &content[4000..])?;
        let done = upload.finish(Some(&sha(&content)))?;
        assert_eq!(
            done.sha256,
            sha(&content),
            "the hash covers the resumed bytes"
        );
        assert_eq!(fs::read(done.path)?, content);
        assert_eq!(dir.partial_offset("resume.bin", 5000)?, None);
        Ok(())
    }

    #[test]
    fn one_file_is_written_by_one_upload_at_a_time() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let first = dir.start("busy.bin", 10)?;
        assert!(matches!(
            dir.clone().start("busy.bin", 10),
            Err(UploadError::Busy(_))
        ));
        drop(first);
        assert!(dir.start("busy.bin", 10).is_ok());
        Ok(())
    }

    #[test]
    fn hash_mismatch_removes_the_partial_file() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let mut upload = dir.start("bad.bin", 4)?;
        upload.write_chunk(0, b"abcd")?;
        let error = upload.finish(Some(&sha(b"abce"))).expect_err("mismatch");
        assert!(
            matches!(&error, UploadError::HashMismatch { actual, .. } if *actual == to_hex(&sha(b"abcd"))),
            "{error:?}"
        );
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
        Ok(())
    }

    #[test]
    fn finish_before_the_end_is_refused() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let mut upload = dir.start("short.bin", 10)?;
        upload.write_chunk(0, &[0; 9])?;
        assert!(matches!(
            upload.finish(None),
            Err(UploadError::Incomplete {
                received: 9,
                size: 10
            })
        ));
        assert_eq!(dir.partial_offset("short.bin", 10)?, Some(9));
        Ok(())
    }

    #[test]
    fn existing_files_are_kept_when_overwrite_is_off() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        fs::write(dir.dir().join("keep.txt"), b"old")?;
        let keep = dir.clone().overwrite(false);
        assert!(matches!(
            keep.start("keep.txt", 3),
            Err(UploadError::Exists(_))
        ));
        let mut upload = dir.start("keep.txt", 3)?;
        upload.write_chunk(0, b"new")?;
        upload.finish(None)?;
        assert_eq!(fs::read(dir.dir().join("keep.txt"))?, b"new");
        Ok(())
    }

    #[test]
    fn empty_file_and_abort() -> Result<(), UploadError> {
        let (_tmp, dir) = folder();
        let done = dir.start("empty", 0)?.finish(Some(&sha(b"")))?;
        assert_eq!(fs::read(done.path)?, b"");
        let mut upload = dir.start("gone", 5)?;
        upload.write_chunk(0, b"ab")?;
        upload.abort()?;
        assert_eq!(dir.partial_offset("gone", 5)?, None);
        assert_eq!(listing(&dir), ["empty"]);
        Ok(())
    }

    #[test]
    fn hex_round_trip() {
        let digest = sha(b"abc");
        let hex = to_hex(&digest);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(parse_hex(&hex), Some(digest));
        assert_eq!(parse_hex(&hex.to_uppercase()), Some(digest));
        assert_eq!(parse_hex("abc"), None);
        assert_eq!(parse_hex(&"zz".repeat(32)), None);
    }
}
