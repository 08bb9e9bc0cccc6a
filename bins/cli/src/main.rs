//! `junction`: the operator's command line. Thin: parses arguments, runs one command
//! from [`commands`], prints its result, and turns any error into one line on stderr
//! with a non-zero exit (1 for a failed command, 2 for bad arguments). No error
//! repeats a value the user gave: any may be a password or a key.

mod commands;

use std::process::ExitCode;

use clap::{
    Parser,
    error::{ContextKind, ContextValue, ErrorKind},
};

fn main() -> ExitCode {
    let cli = match commands::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            return ExitCode::from(2);
        }
        Err(err) => {
            eprintln!("error: {} (see `junction --help`)", argument_error(&err));
            return ExitCode::from(2);
        }
    };
    if let Err(err) = commands::check(&cli) {
        eprintln!(
            "error: {} (see `junction --help`)",
            one_line(&err.to_string())
        );
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JUNCTION_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            // `{:#}` joins the cause chain with ": " on one line.
            eprintln!("error: {}", one_line(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// A clap error as one line. Built from the error's parts rather than clap's text,
/// which quotes what was typed: an argument's value, a stray word or an unknown
/// subcommand may be a password or a key. This names arguments, never values.
fn argument_error(err: &clap::Error) -> String {
    let text = |kind| match err.get(kind) {
        Some(ContextValue::String(value)) => Some(value.as_str()),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg).unwrap_or("an argument");
    let no_value = text(ContextKind::InvalidValue).is_some_and(str::is_empty);
    let mut message = match err.kind() {
        ErrorKind::InvalidValue if no_value => {
            format!("a value is required for '{arg}' but none was supplied")
        }
        ErrorKind::InvalidValue => match names(err.get(ContextKind::ValidValue)) {
            Some(valid) => format!("invalid value for '{arg}' (possible values: {valid})"),
            None => format!("invalid value for '{arg}'"),
        },
        // The source is one of our parsers (whose messages never quote the value)
        // or clap's number parsers (which show at most a number).
        ErrorKind::ValueValidation => match std::error::Error::source(err) {
            Some(source) => format!("invalid value for '{arg}': {source}"),
            None => format!("invalid value for '{arg}'"),
        },
        ErrorKind::TooManyValues => {
            format!("unexpected value for '{arg}' found; no more were expected")
        }
        ErrorKind::UnknownArgument => match text(ContextKind::InvalidArg) {
            Some(flag) if is_flag_name(flag) => format!("unexpected argument '{flag}' found"),
            _ => "unexpected value found: this command takes no further arguments".into(),
        },
        ErrorKind::InvalidSubcommand => "unrecognized subcommand".into(),
        ErrorKind::MissingRequiredArgument => match names(err.get(ContextKind::InvalidArg)) {
            Some(missing) => {
                format!("the following required arguments were not provided: {missing}")
            }
            None => "a required argument was not provided".into(),
        },
        ErrorKind::ArgumentConflict => match (
            text(ContextKind::InvalidArg),
            err.get(ContextKind::PriorArg),
        ) {
            (Some(arg), Some(ContextValue::String(prior))) if arg == prior => {
                format!("the argument '{arg}' cannot be used multiple times")
            }
            (Some(arg), prior) => match names(prior) {
                Some(prior) => format!("the argument '{arg}' cannot be used with {prior}"),
                None => format!(
                    "the argument '{arg}' cannot be used with one or more of the other specified arguments"
                ),
            },
            (None, _) => "arguments that cannot be used together were given".into(),
        },
        ErrorKind::NoEquals => {
            format!("equal sign is needed when assigning values to '{arg}'")
        }
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("wrong number of values for '{arg}'")
        }
        ErrorKind::MissingSubcommand => "a subcommand is required but one was not provided".into(),
        other => other.as_str().unwrap_or("invalid arguments").into(),
    };
    // Suggestions are names of our own arguments and subcommands.
    for (context, what) in [
        (ContextKind::SuggestedSubcommand, "subcommand"),
        (ContextKind::SuggestedArg, "argument"),
    ] {
        if let Some(similar) = names(err.get(context)) {
            message.push_str(&format!("; a similar {what} exists: {similar}"));
        }
    }
    message
}

/// A list of argument names, values or subcommands, quoted and joined.
fn names(value: Option<&ContextValue>) -> Option<String> {
    let quoted: Vec<String> = match value? {
        ContextValue::String(one) => vec![format!("'{one}'")],
        ContextValue::Strings(many) => many.iter().map(|n| format!("'{n}'")).collect(),
        _ => return None,
    };
    (!quoted.is_empty()).then(|| quoted.join(", "))
}

/// Whether an unexpected word is a flag's name (`-x`, `--name`; clap already cut
/// off any `=value`) rather than a value, which is never repeated.
fn is_flag_name(word: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    match (word.strip_prefix("--"), word.strip_prefix('-')) {
        (Some(long), _) => (1..=64).contains(&long.len()) && long.chars().all(name_char),
        (None, Some(short)) => short.chars().count() == 1 && short.chars().all(name_char),
        (None, None) => false,
    }
}

/// Folds a multi-line message onto one line.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
