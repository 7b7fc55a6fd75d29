//! refit's entry point: parse the command line, load the configuration, set up logging,
//! build the engine and registry adapters, run the command, map the result to an exit status.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use refit::cli::{Cli, Command};
use refit::config::{Config, LogFormat, Overrides};
use refit::daemon::{self, DaemonOptions, Runner};
use refit::engine::DockerEngine;
use refit::execute::Outcome;
use refit::heartbeat;
use refit::history::{self, RollbackError};
use refit::notify::{Backoff, Notify};
use refit::own_container;
use refit::pass::{self, PassError, PassOptions};
use refit::publish::Publisher;
use refit::registry::{CosignVerifier, OciRegistry, RegistryOptions, RegistrySettings};
use refit::report::Mode;
use refit::state::Store;
use refit::trust::SignaturePolicy;
use refit::{api, execute, policy};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Exit statuses (SPEC section 7).
const FAILURES: u8 = 1;
const BAD_USAGE: u8 = 2;
const ENGINE_UNREACHABLE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        docker_host: cli.docker_host.clone(),
        log_format: cli.log_format,
        log_level: cli.log_level,
    };
    let config = match Config::load(
        cli.config.as_deref(),
        &|name| std::env::var(name).ok(),
        &overrides,
    ) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("refit: {e}");
            return ExitCode::from(BAD_USAGE);
        }
    };
    init_tracing(&config);
    match cli.command {
        Command::Config => {
            print!("{}", config.to_toml_redacted());
            ExitCode::SUCCESS
        }
        Command::Check { names, json } => run_pass(&config, Mode::Check, names, json),
        Command::Update { names, json } => run_pass(&config, Mode::Update, names, json),
        Command::Run => run_daemon(&config),
        Command::Healthcheck => healthcheck(&config),
        Command::Rollback { name } => run_rollback(&config, &name),
        Command::History { json } => print_history(&config, json),
    }
}

fn init_tracing(config: &Config) {
    // sigstore (and its oci-client) warn about every signature they cannot fetch; refit tells
    // an operator what that meant (unsigned, invalid, registry down) itself.
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "warn,sigstore=error,oci_client=error,refit={}",
        config.log.level
    ));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match config.log.format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

fn run_pass(config: &Config, mode: Mode, names: Vec<String>, json: bool) -> ExitCode {
    with_runtime(async {
        let (engine, registry) = match adapters(config).await {
            Ok(adapters) => adapters,
            Err(status) => return status,
        };
        let stop = shutdown_on_signal();
        let options = pass_options(config, mode, names);
        if mode == Mode::Update {
            take_over(&engine, &options).await;
        }
        match pass::run(&engine, &registry, &options, &stop).await {
            Ok(report) => {
                if mode == Mode::Update {
                    publish_update(config, &options, report.clone(), &registry).await;
                }
                if json {
                    println!("{}", report.to_json());
                } else {
                    print!("{}", report.to_table());
                }
                if report.has_failures() {
                    ExitCode::from(FAILURES)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(PassError::UnknownContainers(names)) => {
                eprintln!("refit: {}", PassError::UnknownContainers(names));
                ExitCode::from(BAD_USAGE)
            }
            Err(PassError::Engine(e)) => {
                eprintln!("refit: {e}");
                ExitCode::from(ENGINE_UNREACHABLE)
            }
        }
    })
}

/// `refit healthcheck`: 0 when the daemon's heartbeat is fresh, 1 (saying why) when not.
fn healthcheck(config: &Config) -> ExitCode {
    let path = heartbeat::path_for(&config.state.path);
    match heartbeat::age(&path, chrono::Utc::now()) {
        Ok(age) if age <= heartbeat::MAX_AGE => ExitCode::SUCCESS,
        Ok(age) => {
            eprintln!(
                "refit: the daemon's last heartbeat is {}s old (more than {}s)",
                age.as_secs(),
                heartbeat::MAX_AGE.as_secs()
            );
            ExitCode::from(FAILURES)
        }
        Err(why) => {
            eprintln!("refit: {why}");
            ExitCode::from(FAILURES)
        }
    }
}

/// `refit rollback NAME`: 0 when the container runs its previous image, 1 when not.
fn run_rollback(config: &Config, name: &str) -> ExitCode {
    with_runtime(async {
        let (engine, registry) = match adapters(config).await {
            Ok(adapters) => adapters,
            Err(status) => return status,
        };
        let options = pass_options(config, Mode::Update, Vec::new());
        match history::rollback(&engine, &registry, &options, name).await {
            Ok((last, Outcome::Updated { .. })) => {
                println!(
                    "{name}: rolled back to {}",
                    last.from_digest.as_deref().unwrap_or(&last.from_image)
                );
                ExitCode::SUCCESS
            }
            Ok((_, Outcome::Failed(why) | Outcome::RolledBack(why) | Outcome::Skipped(why))) => {
                eprintln!("refit: {name}: not rolled back: {why}");
                ExitCode::from(FAILURES)
            }
            Err(e @ RollbackError::UnknownContainer(_)) => {
                eprintln!("refit: {e}");
                ExitCode::from(BAD_USAGE)
            }
            Err(RollbackError::Engine(e)) => {
                eprintln!("refit: {e}");
                ExitCode::from(ENGINE_UNREACHABLE)
            }
            Err(e) => {
                eprintln!("refit: {e}");
                ExitCode::from(FAILURES)
            }
        }
    })
}

/// `refit history [--json]`: the journal's finished updates, newest first.
fn print_history(config: &Config, json: bool) -> ExitCode {
    match Store::new(&config.state.path).history(history::HISTORY_LIMIT) {
        Ok(entries) if json => {
            println!("{}", history::to_json(&entries));
            ExitCode::SUCCESS
        }
        Ok(entries) => {
            print!("{}", history::to_table(&entries));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("refit: {e}");
            ExitCode::from(FAILURES)
        }
    }
}

/// In a container that succeeded refit's own, wait for the predecessor to exit and remove it
/// before acting (`execute::handover`).
async fn take_over(engine: &DockerEngine, options: &PassOptions) {
    let Some(own) = &options.settings.own_container else {
        return;
    };
    if let Err(why) = execute::handover::adopt(engine, own).await {
        tracing::warn!(error = %why, "cannot take over from the previous refit container");
    }
}

/// `refit run`: the daemon, or one update pass with `schedule.run_once` (Watchtower's
/// `WATCHTOWER_RUN_ONCE`).
fn run_daemon(config: &Config) -> ExitCode {
    if config.schedule.run_once {
        return run_pass(config, Mode::Update, Vec::new(), false);
    }
    with_runtime(async {
        let (engine, registry) = match adapters(config).await {
            Ok(adapters) => adapters,
            Err(status) => return status,
        };
        let shutdown = shutdown_on_signal();
        let options = DaemonOptions {
            schedule: config.schedule.schedule.clone(),
            update_on_start: config.schedule.update_on_start,
            pass: pass_options(config, Mode::Update, Vec::new()),
        };
        take_over(&engine, &options.pass).await;
        let publisher = Arc::new(publisher(config, &options.pass));
        let (triggers, requests) = daemon::channel();
        let server = match start_api(config, triggers, &publisher, &shutdown).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("refit: {e}");
                return ExitCode::from(FAILURES);
            }
        };
        let runner = Runner {
            engine: &engine,
            registry: &registry,
            options: &options,
            publisher: &publisher,
            shutdown: &shutdown,
        };
        // The heartbeat `refit healthcheck` reads; it stops when the daemon does.
        let beat_stop = shutdown.child_token();
        let beat = tokio::spawn(heartbeat::beat(
            heartbeat::path_for(&config.state.path),
            beat_stop.clone(),
        ));
        daemon::run(&runner, requests).await;
        beat_stop.cancel();
        let _ = beat.await;
        // The runner is gone, so requests still waiting are answered 503; let them finish.
        shutdown.cancel();
        if let Some(server) = server {
            match tokio::time::timeout(API_DRAIN, server).await {
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "api server failed"),
                Ok(_) => {}
                Err(_) => tracing::warn!("api requests still open at exit"),
            }
        }
        ExitCode::SUCCESS
    })
}

/// How long `refit run` waits at exit for API requests still open.
const API_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

fn publisher(config: &Config, options: &PassOptions) -> Publisher {
    let notify = Notify::new(&config.notify.urls, Backoff::default());
    Publisher::new(notify, Arc::clone(&options.state))
}

/// `refit update`'s report goes to the history and the notifiers as the daemon's do.
async fn publish_update(
    config: &Config,
    options: &PassOptions,
    report: refit::report::Report,
    registry: &OciRegistry,
) {
    let publisher = publisher(config, options);
    let report = Arc::new(report);
    publisher.record("cli", &Ok(Arc::clone(&report)), registry);
    publisher.announce(&report).await;
}

type ApiTask = tokio::task::JoinHandle<Result<(), api::Error>>;

/// Binds and starts the API when `api.listen` is set; a bind failure stops `refit run` at
/// start, where the operator sees it.
async fn start_api(
    config: &Config,
    triggers: daemon::Triggers,
    publisher: &Arc<Publisher>,
    shutdown: &CancellationToken,
) -> Result<Option<ApiTask>, api::Error> {
    let Some(address) = config.api.listen else {
        return Ok(None);
    };
    let listener = api::bind(address).await?;
    let state = api::ApiState::new(
        triggers,
        Arc::clone(publisher),
        config.api.token.as_ref(),
        config.api.metrics_public,
    );
    let shutdown = shutdown.clone();
    Ok(Some(tokio::spawn(api::serve(
        listener,
        Arc::new(state),
        shutdown,
    ))))
}

fn with_runtime(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => {
            eprintln!("refit: cannot start the async runtime: {e}");
            ExitCode::from(FAILURES)
        }
    }
}

/// The engine and registry clients, or the exit status that says why there are none.
async fn adapters(config: &Config) -> Result<(DockerEngine, OciRegistry), ExitCode> {
    let engine = connect(config).await.map_err(|e| {
        eprintln!("refit: {e}");
        ExitCode::from(ENGINE_UNREACHABLE)
    })?;
    let registry = OciRegistry::new(registry_options(config)).map_err(|e| {
        eprintln!("refit: {e}");
        ExitCode::from(BAD_USAGE)
    })?;
    Ok((engine, registry))
}

/// A token cancelled on SIGINT or SIGTERM: the pass then finishes the container in hand and
/// starts no other, so no container is left stopped or renamed.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::warn!("signal received: finishing the container in hand, then stopping");
        cancel.cancel();
    });
    token
}

/// Connect to the configured engine; the error names the address tried.
async fn connect(config: &Config) -> Result<DockerEngine, refit::engine::Error> {
    DockerEngine::connect(&config.docker.host, config.docker.tls.as_ref()).await
}

fn registry_options(config: &Config) -> RegistryOptions {
    let registries = config
        .registries
        .iter()
        .map(|(host, r)| {
            let settings = RegistrySettings {
                username: r.username.clone(),
                password: r.password.clone(),
                ca_file: r.ca_file.clone(),
                insecure: r.insecure,
            };
            (host.clone(), settings)
        })
        .collect();
    RegistryOptions {
        allowed_registries: config.trust.allowed_registries.clone(),
        registries,
        ..RegistryOptions::default()
    }
}

fn pass_options(config: &Config, mode: Mode, names: Vec<String>) -> PassOptions {
    let policy = &config.policy;
    PassOptions {
        mode,
        names,
        defaults: policy::Defaults {
            selection: policy.selection,
            monitor_only: policy.monitor_only,
            scope: policy.scope.clone(),
            strategy: policy.update,
            min_age: policy.min_age,
        },
        include_stopped: policy.include_stopped,
        settings: execute::Settings {
            cleanup: policy.cleanup,
            stop_timeout: policy.stop_timeout,
            pull_concurrency: 4,
            health: execute::HealthSettings {
                wait: config.health.wait,
                timeout: config.health.timeout,
                rollback: config.health.rollback,
            },
            pause_after: test_pause(),
            own_container: own_container::detect(Path::new("/proc/self/mountinfo")),
        },
        windows: config.windows.clone(),
        state: Arc::new(Store::new(&config.state.path)),
        signatures: SignaturePolicy {
            rules: config.trust.signatures.clone(),
            verifier: Arc::new(CosignVerifier::new(&registry_options(config))),
        },
    }
}

/// `REFIT_TEST_PAUSE_AFTER=<step>[:<duration>]`, for the integration tests only: sleep after
/// taking that update step, so a test can kill refit at a known point (docs/recovery.md).
fn test_pause() -> Option<execute::Pause> {
    let value = std::env::var("REFIT_TEST_PAUSE_AFTER").ok()?;
    let pause = execute::Pause::parse(&value);
    if pause.is_none() {
        tracing::warn!(value = %value, "REFIT_TEST_PAUSE_AFTER does not name a step; ignored");
    }
    pause
}
