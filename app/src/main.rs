//! The `provisio` binary: the GUI when run without arguments, the CLI otherwise.

fn main() -> anyhow::Result<()> {
    println!("provisio {}", env!("CARGO_PKG_VERSION"));
    Ok(())
}
