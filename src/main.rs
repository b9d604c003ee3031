//! The `cachet` binary: the CLI (and, with no command, the terminal browser).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
