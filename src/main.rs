use std::process::ExitCode;

use clap::Parser as _;

use bottleneck::cli::{self, Cli};

fn main() -> ExitCode {
    let args = Cli::parse();
    let result = match args.command {
        Some(command) => cli::run(command),
        None => open_window(args.file, args.window),
    };
    result.unwrap_or_else(|err| {
        eprintln!("error: {err:#}");
        ExitCode::from(2)
    })
}

#[cfg(feature = "gui")]
fn open_window(
    file: Option<std::path::PathBuf>,
    window: cli::WindowArgs,
) -> anyhow::Result<ExitCode> {
    bottleneck::ui::run(file, window)
}

#[cfg(not(feature = "gui"))]
fn open_window(
    _file: Option<std::path::PathBuf>,
    _window: cli::WindowArgs,
) -> anyhow::Result<ExitCode> {
    cli::no_gui()
}
