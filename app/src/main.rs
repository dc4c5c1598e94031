//! The `provisio` binary: the GUI when run without arguments, the CLI otherwise.

use clap::Parser;

fn main() {
    // `provisio plan … | head` closes stdout early: end quietly instead of reporting a panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default_hook(info);
    }));
    let cli = provisio_app::cli::Cli::parse();
    std::process::exit(provisio_app::cli::run(cli));
}
