//! `local import KIND FILE`: the bulk import of `POST /api/v1/admin/import/{kind}`
//! ([`shared::domain::import`]) from a file of any size, against the same store as `serve`
//! (DATA_DIR / `--data-dir`, or DynamoDB with `STORE=dynamodb`). The file is read twice (validate,
//! then write), streamed row by row in batches, so its size is not bounded by memory or by the
//! HTTP route's 6 MB. A rejected file prints its row errors on stderr and exits non-zero with
//! nothing written; a written one prints the report (counts per entity) as JSON.

use std::{io::Read, path::PathBuf};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use shared::{
    AppState,
    config::Config,
    domain::import::{self, Context, Format, ImportError, ImportKind, Source},
};

/// The file's format, when its extension does not say.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Ndjson,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file holds: users, products, interactions or orders.
    pub kind: ImportKind,
    /// CSV with a header row (`.csv`) or JSON lines (`.ndjson`, `.jsonl`, `.json`).
    pub file: PathBuf,
    /// The format, overriding the file name's extension.
    #[arg(long)]
    pub format: Option<FormatArg>,
    /// Folder of the embedded store (overrides DATA_DIR).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Runs the import and prints its report.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let format = match args.format {
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Ndjson) => Format::JsonLines,
        None => Format::from_file_name(&args.file.to_string_lossy()).with_context(|| {
            format!(
                "{}: cannot tell the format from the extension (.csv, .ndjson, .jsonl); use --format",
                args.file.display()
            )
        })?,
    };
    let path = args.file.clone();
    std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?;
    let mut config = Config::from_env()?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    let state = AppState::from_config(config).await?;
    let ctx = Context {
        store: state.store.as_ref(),
        embedder: state.embedder.as_ref(),
        // Whoever runs the CLI holds the store itself.
        may_assign_roles: true,
    };
    let open = move || -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            std::fs::File::open(&path)?,
        )))
    };
    match import::run(
        &ctx,
        args.kind,
        &Source {
            format,
            open: &open,
        },
    )
    .await
    {
        Ok(report) => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Err(ImportError::Rejected(errors)) => {
            for e in &errors {
                eprintln!("{}: {}", e.field, e.message);
            }
            anyhow::bail!(
                "import rejected: {} problem(s) listed above (rows numbered from 1 after the header); nothing was written",
                errors.len()
            )
        }
        Err(e) => Err(e.into()),
    }
}
