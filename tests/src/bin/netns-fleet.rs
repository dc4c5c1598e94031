//! `netns-fleet`: the fleet simulator of `provisio-fleet run` (same arguments, same code), built
//! in this crate so the gateway test can start it with `ip netns exec` inside a gateway's
//! network namespace (a test only knows the paths of its own crate's binaries). Runs until
//! SIGINT and prints `online: N/M` to stderr whenever the count changes.

use clap::Parser;
use provisio_firmware::cli::{self, FleetArgs};

#[derive(Parser)]
#[command(
    name = "netns-fleet",
    about = "Simulated NodeMCU fleet (provisio-fleet run)"
)]
struct Cli {
    #[command(flatten)]
    fleet: FleetArgs,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Cli::parse().fleet;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(cli::run_until_ctrl_c(args)) {
        eprintln!("netns-fleet: {e}");
        std::process::exit(1);
    }
}
