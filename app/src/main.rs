//! The `provisio` binary: the GUI when run without arguments, the CLI otherwise.

use clap::Parser;

fn main() {
    let cli = provisio_app::cli::Cli::parse();
    std::process::exit(provisio_app::cli::run(cli));
}
