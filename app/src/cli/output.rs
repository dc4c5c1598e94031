//! The CLI's console output, which never panics: `outln!`/`out!` (stdout) and `errln!`
//! (stderr) stand in for `println!`/`print!`/`eprintln!`, which panic when a write fails. A
//! write fails when the terminal is gone (after a hangup: EIO) or the reader closed the pipe
//! (`provisio … | head -1`: EPIPE); the command must still finish its cleanup and exit with
//! its own code. A failed line is dropped; once a stream is gone for good, later lines to it
//! are not even tried.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Whether a write error means the stream will never take output again: its terminal hung up
/// (EIO) or its reader went away (EPIPE).
fn gone_for_good(e: &std::io::Error) -> bool {
    const EIO: i32 = 5;
    e.kind() == std::io::ErrorKind::BrokenPipe || e.raw_os_error() == Some(EIO)
}

fn write_to(mut stream: impl Write, gone: &AtomicBool, text: std::fmt::Arguments<'_>) {
    if gone.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = stream.write_fmt(text).and_then(|()| stream.flush())
        && gone_for_good(&e)
    {
        gone.store(true, Ordering::Relaxed);
    }
}

/// Writes `text` to stdout (flushed); a failure is dropped.
pub fn stdout(text: std::fmt::Arguments<'_>) {
    write_to(std::io::stdout().lock(), &STDOUT_GONE, text);
}

/// Writes `text` to stderr; a failure is dropped.
pub fn stderr(text: std::fmt::Arguments<'_>) {
    write_to(std::io::stderr().lock(), &STDERR_GONE, text);
}

/// `println!` that never panics (see the module doc).
macro_rules! outln {
    () => {
        $crate::cli::output::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that never panics (see the module doc).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see the module doc).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::output::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose reader is gone.
    struct Hungup(usize);

    impl Write for Hungup {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            self.0 += 1;
            Err(std::io::Error::from_raw_os_error(5))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Every CLI module prints with these macros: a `println!` added later would bring the
    /// panic on a vanished terminal back.
    #[test]
    fn no_cli_module_prints_with_the_panicking_macros() {
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli")];
        let mut files = Vec::new();
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs")
                    && path.file_name().is_none_or(|n| n != "output.rs")
                {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 10, "the CLI modules were not found");
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                // Whole lines (a `"http://"` must not hide the rest), comments aside.
                let code = if line.trim_start().starts_with("//") {
                    ""
                } else {
                    line
                };
                for m in ["println!", "print!", "eprintln!", "eprint!"] {
                    let panicking = code.match_indices(m).any(|(at, _)| {
                        !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                    assert!(
                        !panicking,
                        "{}:{}: {m} (use outln!/out!/errln!)",
                        path.display(),
                        n + 1
                    );
                }
            }
        }
    }

    #[test]
    fn a_hung_up_stream_is_tried_once_then_skipped() {
        let gone = AtomicBool::new(false);
        let mut s = Hungup(0);
        write_to(&mut s, &gone, format_args!("a\n"));
        assert!(gone.load(Ordering::Relaxed));
        write_to(&mut s, &gone, format_args!("b\n"));
        assert_eq!(s.0, 1);
    }
}
