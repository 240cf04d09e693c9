//! The shared state every router and worker gets, and how it is assembled from configuration:
//! DynamoDB/SQS/Secrets Manager when their names are configured, the embedded twins otherwise,
//! when the binary links them (`Clients::embedded`: the local stack and the tests; a Lambda
//! function does not, and refuses to start without `TABLE_NAME` and `QUEUE_URL`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::mail::{Outbox, Ses, SharedMailer};
use rampart_platform::clock::SharedClock;
use rampart_platform::config::Settings;
use rampart_platform::error::StartupError;
use rampart_platform::secrets::local::LocalSource;
use rampart_platform::secrets::{self, SecretSource, Secrets};
use rampart_store::SharedStore;
use rampart_store::dynamo::DynamoStore;
use rampart_store::queue::SharedQueue;
use rampart_store::queue::sqs::SqsQueue;

/// Wraps the store and queue in the fault dice when `FAULT_RATE` asks for it (never in
/// production: the settings refuse it there).
fn with_faults(
    settings: &Settings,
    store: SharedStore,
    queue: SharedQueue,
) -> (SharedStore, SharedQueue) {
    if settings.fault_rate <= 0.0 {
        return (store, queue);
    }
    tracing::warn!(
        rate = settings.fault_rate,
        seed = settings.fault_seed,
        "injecting store and queue faults (FAULT_RATE)"
    );
    let faults = Arc::new(rampart_platform::faults::Faults::new(
        settings.fault_rate,
        settings.fault_seed,
        std::time::Duration::ZERO,
    ));
    (
        Arc::new(rampart_store::faulty::FaultyStore::new(
            store,
            faults.clone(),
        )),
        Arc::new(rampart_store::queue::faulty::FaultyQueue::new(
            queue, faults,
        )),
    )
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: SharedStore,
    pub queue: SharedQueue,
    pub secrets: Arc<Secrets>,
    pub clock: SharedClock,
    pub mailer: SharedMailer,
    /// What the domains this process links registered about their data (GDPR export and
    /// erasure, retention); empty unless the function composes one (`with_registry`).
    pub registry: Arc<crate::registry::Registry<AppState>>,
}

/// The shared AWS SDK configuration through the SDK's default provider chain (environment,
/// profile files, web identity, container and instance metadata): what the local stack
/// and the tests use, wherever their credentials come from. Lambda functions use
/// `lambda::aws_config` instead. Standard retry mode (exponential backoff with jitter)
/// so throttling is retried by the SDK, not by us.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(rampart_platform::aws_http::client())
        .retry_config(retry_config())
        .load()
        .await
}

/// Four attempts in the SDK's standard mode, for every AWS client we build.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(4)
}

/// How a binary gets its AWS configuration. A function pointer, so a Lambda binary, which names
/// only `lambda::aws_config`, does not link the default provider chain (STS, profile
/// files, instance metadata): fat LTO drops what nothing names.
pub type AwsLoader = fn() -> Pin<Box<dyn Future<Output = aws_config::SdkConfig> + Send>>;

/// [`AwsLoader`] through the default provider chain ([`aws_config`]).
pub fn default_chain() -> Pin<Box<dyn Future<Output = aws_config::SdkConfig> + Send>> {
    Box::pin(aws_config())
}

/// The AWS clients a binary may build beyond the store, queue and secrets every function uses.
/// Each is a constructor the binary names: a function that never mails passes
/// [`Clients::NO_MAIL`], nothing in it references the SES client, and fat LTO leaves that SDK
/// out of its binary (each function links only what it uses).
#[derive(Clone, Copy)]
pub struct Clients {
    pub mail: Option<fn(&aws_config::SdkConfig, &str) -> SharedMailer>,
    /// The embedded store and queue, for whichever of `TABLE_NAME`/`QUEUE_URL` is unset. Only
    /// the local stack and the tests name one, so no Lambda function links the embedded engine.
    pub embedded: Option<Embedded>,
}

/// Opens the embedded store and queue the settings describe (under `DATA_DIR`).
pub type Embedded = fn(&Settings, &SharedClock) -> Result<(SharedStore, SharedQueue), StartupError>;

impl Clients {
    /// Functions that mail: every AWS client they may use.
    pub const ALL: Self = Self {
        mail: Some(ses_mailer),
        embedded: None,
    };
    /// Functions that never mail anyone: `MAIL_FROM` is ignored and mail would go to the
    /// outbox in the table, which nothing in them sends to.
    pub const NO_MAIL: Self = Self {
        mail: None,
        embedded: None,
    };

    /// These clients, with the embedded twins for what is not configured.
    pub const fn with_embedded(self, embedded: Embedded) -> Self {
        Self {
            mail: self.mail,
            embedded: Some(embedded),
        }
    }
}

pub fn ses_mailer(cfg: &aws_config::SdkConfig, from: &str) -> SharedMailer {
    Arc::new(Ses::new(aws_sdk_sesv2::Client::new(cfg), from))
}

impl AppState {
    pub fn new(
        settings: Settings,
        store: SharedStore,
        queue: SharedQueue,
        secrets: Arc<Secrets>,
        clock: SharedClock,
    ) -> Self {
        // Mail goes to the local outbox until a real mailer is configured.
        let mailer: SharedMailer = Arc::new(Outbox::new(
            store.clone(),
            clock.clone(),
            !settings.in_lambda,
        ));
        Self {
            settings: Arc::new(settings),
            store,
            queue,
            secrets,
            clock,
            mailer,
            registry: Arc::default(),
        }
    }

    /// The registry of the domains this process links (the functions that export, erase or
    /// run retention compose it).
    pub fn with_registry(mut self, registry: crate::registry::Registry<AppState>) -> Self {
        self.registry = Arc::new(registry);
        self
    }

    pub fn with_mailer(mut self, mailer: SharedMailer) -> Self {
        self.mailer = mailer;
        self
    }

    /// Assembles the state the settings describe with `clients`, through the SDK's default
    /// provider chain, and runs the production lockdown.
    pub async fn from_settings(
        settings: Settings,
        clock: SharedClock,
        clients: Clients,
    ) -> Result<Self, StartupError> {
        Self::from_settings_with(settings, clock, clients, default_chain).await
    }

    /// [`AppState::from_settings`] building only the optional `clients` a binary names, with
    /// its AWS configuration from `aws` when the settings name an AWS resource.
    pub async fn from_settings_with(
        settings: Settings,
        clock: SharedClock,
        clients: Clients,
        load_aws: AwsLoader,
    ) -> Result<Self, StartupError> {
        let problems = settings.production_problems();
        if !problems.is_empty() {
            return Err(StartupError(format!(
                "refusing to start in production: {}",
                problems.join("; ")
            )));
        }
        let needs_aws = settings.table_name.is_some()
            || settings.queue_url.is_some()
            || settings.secret_id.is_some();
        let aws = if needs_aws {
            Some(load_aws().await)
        } else {
            None
        };
        let embedded = if settings.table_name.is_none() || settings.queue_url.is_none() {
            let open = clients.embedded.ok_or_else(|| {
                StartupError(
                    "TABLE_NAME and QUEUE_URL must be set: this binary has no embedded store"
                        .into(),
                )
            })?;
            Some(open(&settings, &clock)?)
        } else {
            None
        };
        let store: SharedStore = match (&settings.table_name, &aws, &embedded) {
            (Some(t), Some(cfg), _) => Arc::new(DynamoStore::new(
                aws_sdk_dynamodb::Client::new(cfg),
                t,
                clock.clone(),
            )),
            (_, _, Some((store, _))) => store.clone(),
            _ => unreachable!("either a table or the embedded store is configured"),
        };
        let queue: SharedQueue = match (&settings.queue_url, &aws, &embedded) {
            (Some(u), Some(cfg), _) => Arc::new(
                SqsQueue::new(aws_sdk_sqs::Client::new(cfg), u)
                    .with_dead_letter(settings.dead_letter_queue_url.clone()),
            ),
            (_, _, Some((_, queue))) => queue.clone(),
            _ => unreachable!("either a queue URL or the embedded queue is configured"),
        };
        let (store, queue) = with_faults(&settings, store, queue);
        let source: Box<dyn SecretSource> = match (&settings.secret_id, &aws) {
            (Some(id), Some(cfg)) => Box::new(secrets::aws::SecretsManagerSource::new(
                aws_sdk_secretsmanager::Client::new(cfg),
                id,
            )),
            _ => {
                // Never generate secrets in production: they must be provided.
                let dev_file =
                    (!settings.is_production()).then(|| settings.data_dir.join("dev-secrets.json"));
                Box::new(LocalSource::from_env(dev_file))
            }
        };
        let secrets = Arc::new(Secrets::new(source, clock.clone(), settings.secrets_ttl));
        if settings.is_production() {
            check_secrets(&secrets).await?;
        }
        let mailer = match (&settings.mail_from, clients.mail, aws) {
            (Some(from), Some(make), Some(cfg)) => Some(make(&cfg, from)),
            (Some(from), Some(make), None) => Some(make(&load_aws().await, from)),
            _ => None,
        };
        let state = Self::new(settings, store, queue, secrets, clock);
        Ok(match mailer {
            Some(mailer) => state.with_mailer(mailer),
            None => state,
        })
    }

    /// The key of the keyed hashes that keep raw emails and IPs out of the table.
    pub async fn hash_pepper(&self) -> Result<Vec<u8>, rampart_platform::error::ApiError> {
        self.secrets
            .require(secrets::HASH_PEPPER)
            .await
            .map(String::into_bytes)
            .map_err(|e| rampart_platform::error::ApiError::Unavailable(e.to_string()))
    }
}

/// Production refuses a missing, malformed, weak or published secret and names it (the rules
/// are declared in `secrets::check`).
pub async fn check_secrets(secrets: &Secrets) -> Result<(), StartupError> {
    let snap = secrets
        .snapshot()
        .await
        .map_err(|e| StartupError(format!("cannot load secrets: {e}")))?;
    let problems = secrets::check::problems(&snap);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StartupError(format!(
            "refusing to start in production: {}",
            problems.join("; ")
        )))
    }
}
