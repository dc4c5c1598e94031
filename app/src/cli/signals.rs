//! The stop signals of the long CLI commands (deploy, undeploy, `deploy --watch`, `monitor …`):
//! Ctrl-C (SIGINT), SIGTERM (systemd, containers, `kill`) and SIGHUP (the terminal closed) all
//! stop them the same way. The first cancels a token the command stops and cleans up by; a
//! second only says the cleanup goes on (systemd may send SIGTERM and SIGHUP together); a third
//! ends the process at once, leaving what is not yet removed to the next command
//! (`deploy::recover`).

use tokio_util::sync::CancellationToken;

/// The stop signals, listened to from when this is made on (none sent later is missed).
pub struct StopSignals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
fn listen_to(
    name: &str,
    kind: tokio::signal::unix::SignalKind,
) -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
        .inspect_err(|e| say(&format!("warning: cannot listen for {name}: {e}")))
        .ok()
}

/// Whether this process was started with signal `signo` ignored (`nohup` ignores SIGHUP, a
/// shell's `&` without job control SIGINT): read from `/proc/self/status`, since asking the
/// kernel directly needs unsafe code.
#[cfg(unix)]
fn ignored(signo: u32) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (signo - 1)) != 0)
}

/// The next delivery of `s`; never for a signal not listened to.
#[cfg(unix)]
async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
    if let Some(s) = s
        && s.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}

impl StopSignals {
    /// Starts listening (inside a tokio runtime). A signal that cannot be listened to is
    /// warned about and left to its default action.
    pub fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::SignalKind;
            StopSignals {
                int: (!ignored(2))
                    .then(|| listen_to("SIGINT", SignalKind::interrupt()))
                    .flatten(),
                term: listen_to("SIGTERM", SignalKind::terminate()),
                // `nohup provisio deploy … &` ignores SIGHUP so the deploy outlives the
                // terminal: listening would undo that.
                hup: (!ignored(1))
                    .then(|| listen_to("SIGHUP", SignalKind::hangup()))
                    .flatten(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for the next stop signal: its name and number.
    pub async fn recv(&mut self) -> (&'static str, i32) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = next(&mut self.int) => ("SIGINT", 2),
                _ = next(&mut self.term) => ("SIGTERM", 15),
                _ = next(&mut self.hup) => ("SIGHUP", 1),
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            ("Ctrl-C", 2)
        }
    }
}

/// One line on stderr; a closed terminal (SIGHUP) must not end the cleanup with a panic.
fn say(line: &str) {
    errln!("{line}");
}

/// A token cancelled by the first stop signal, which prints `first` (e.g. "cancelling");
/// a second prints that the cleanup goes on, a third ends the process (exit 128 + its
/// number). Call inside the runtime that runs the command.
pub fn cancel_on_stop(first: &'static str) -> CancellationToken {
    let cancel = CancellationToken::new();
    let mut signals = StopSignals::listen();
    let c = cancel.clone();
    tokio::spawn(async move {
        let (name, _) = signals.recv().await;
        c.cancel();
        say(&format!("{name}: {first}…"));
        let (name, _) = signals.recv().await;
        say(&format!(
            "{name}: still cleaning up; signal again to abort (what is not yet removed is then left to the next provisio command)"
        ));
        let (name, number) = signals.recv().await;
        say(&format!(
            "{name}: cleanup aborted; `provisio instances` shows what is left"
        ));
        std::process::exit(128 + number);
    });
    cancel
}
