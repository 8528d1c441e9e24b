//! `local`: run the whole platform on this machine.

use std::{io::Read, net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::{
    AppState,
    auth::password::hash_password,
    config::{Config, StoreBackend},
    domain::users,
};

#[derive(Parser)]
#[command(
    name = "local",
    about = "Run the personalization platform locally",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every endpoint group on one HTTP server.
    Serve {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Folder of the embedded store and local blobs (overrides DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Seed demo data (admin admin@ecommerce.com / admin123, a manager, customers).
        #[arg(long)]
        demo: bool,
        /// Keep everything in memory (nothing written to disk).
        #[arg(long)]
        memory: bool,
        /// Number of demo products with --demo (spread over 24 categories).
        #[arg(long, default_value_t = 500)]
        demo_products: usize,
        /// Number of demo customers with --demo (customer000, customer001, ...).
        #[arg(long, default_value_t = 200)]
        demo_customers: usize,
        /// Number of demo orders with --demo (then the fbt-rules job runs once).
        #[arg(long, default_value_t = 2000)]
        demo_orders: usize,
        /// Number of demo teachers (education ML API) with --demo (then the user-clusters job
        /// runs once).
        #[arg(long, default_value_t = 3000)]
        demo_teachers: usize,
        /// Number of demo shoppable videos with --demo, with likes, saves and views by demo
        /// customers (then the video-trends job runs once).
        #[arg(long, default_value_t = 36)]
        demo_videos: usize,
        /// Homepage sessions a day in the demo's simulated recommendation traffic (3 days, with
        /// clicks, orders and a finished A/B experiment); 0 simulates none.
        #[arg(long, default_value_t = 60)]
        demo_rec_sessions: usize,
    },
    /// Create or promote the first admin. The password is read from ADMIN_PASSWORD or stdin,
    /// never from the command line. Works against DynamoDB when STORE=dynamodb.
    BootstrapAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "admin")]
        username: String,
        /// Read the password from standard input instead of ADMIN_PASSWORD.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Run one batch job now: the code EventBridge schedules run in the cloud (`fbt-rules`,
    /// `user-clusters`, `video-trends`, `reco-train`; `explain-fill` pre-generates the
    /// explanations of the most-served items; `analytics-rebuild`, never scheduled, recomputes
    /// the analytics rollups from the raw records).
    /// Uses the same store as `serve` (DATA_DIR / --data-dir, or DynamoDB with STORE=dynamodb).
    Job {
        /// The job's name.
        name: jobs_fn::Job,
        /// Folder of the embedded store (overrides DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// fbt-rules: minimum number of orders a pair must share (default 3).
        #[arg(long)]
        min_support_count: Option<u64>,
        /// user-clusters: k-means seed (default 42).
        #[arg(long)]
        seed: Option<u64>,
        /// reco-train: models to train, comma-separated (default: all but kmeans).
        #[arg(long, value_delimiter = ',')]
        models: Option<Vec<String>>,
    },
    /// Offline evaluation: `local eval recommend --train TRAIN.csv --test TEST.csv --model M`.
    Eval {
        #[command(subcommand)]
        what: local::eval_recommend::EvalCommand,
    },
    /// Print the merged OpenAPI document.
    Openapi,
    /// Bulk import a CSV or JSON-lines file of users, products, interactions or historical orders.
    Import(local::import::ImportArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            host,
            port,
            data_dir,
            demo,
            memory,
            demo_products,
            demo_customers,
            demo_orders,
            demo_teachers,
            demo_videos,
            demo_rec_sessions,
        } => {
            let mut config = Config::from_env()?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            if memory {
                local::memory_only(&mut config);
            }
            if demo {
                anyhow::ensure!(
                    config.store != StoreBackend::Dynamodb,
                    "--demo seeds a known admin password and is refused with STORE=dynamodb"
                );
                config.demo_mode = true;
            }
            let addr: SocketAddr = format!("{host}:{port}").parse().context("--host/--port")?;
            let from_env = std::env::var("PUBLIC_BASE_URL").is_ok();
            // The address is bound (so the URL is known) but not listened on until the demo
            // data is seeded: an early request is refused, never answered from half a seed.
            let prepared = local::prepare(addr, config, from_env).await?;
            if prepared.state.config.demo_mode {
                let sizes = local::demo::DemoSizes {
                    products: demo_products,
                    customers: demo_customers,
                    orders: demo_orders,
                    teachers: demo_teachers,
                    videos: demo_videos,
                    rec_sessions: demo_rec_sessions,
                };
                local::demo::seed_all(&prepared.state, sizes).await?;
            }
            let running = prepared.serve().await?;
            println!(
                "{}",
                local::banner(running.addr, running.state.config.demo_mode)
            );
            tokio::select! {
                r = running.handle => r?,
                _ = tokio::signal::ctrl_c() => println!("stopping"),
            }
        }
        Command::BootstrapAdmin {
            email,
            username,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s.trim_end_matches(['\r', '\n']).to_string()
            } else {
                std::env::var("ADMIN_PASSWORD")
                    .context("set ADMIN_PASSWORD or use --password-stdin")?
            };
            anyhow::ensure!(
                password.len() >= 12,
                "the admin password must be at least 12 characters"
            );
            let state = AppState::from_config(Config::from_env()?).await?;
            let admin = users::ensure_admin(
                state.store.as_ref(),
                &email,
                &username,
                hash_password(&password).await?,
            )
            .await?;
            println!("admin ready: {} ({})", admin.email, admin.id);
        }
        Command::Job {
            name,
            data_dir,
            min_support_count,
            seed,
            models,
        } => {
            let mut config = Config::from_env()?;
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            let state = AppState::from_config(config).await?;
            let event = jobs_fn::JobEvent {
                job: name,
                min_support_count,
                seed,
                training_id: None,
                models,
                requests: None,
            };
            let report = jobs_fn::run(&state, &event).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Eval { what } => local::eval_recommend::run(what)?,
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&local::openapi())?);
        }
        Command::Import(args) => local::import::run(args).await?,
    }
    Ok(())
}
