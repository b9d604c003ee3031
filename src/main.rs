//! The `cachet` binary: the CLI (and, with no command, the terminal browser).

mod cli;
mod tui;

fn main() -> std::process::ExitCode {
    cli::main()
}
