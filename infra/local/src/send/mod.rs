//! `rampart-local send <provider> <event> [--flag value ...]`: one delivery in the provider's
//! documented shape, signed with the dev secret by the provider's own signing code in
//! `rampart_webhooks::providers`, posted to a running stack (like `stripe trigger`), so every
//! webhook flow can be driven end to end without the provider. One file per provider builds its
//! delivery; this one reads the command line, finds the secret and the address, and posts.

pub mod docusign;
pub mod mock;
pub mod square;
pub mod standard;
pub mod stripe;
pub mod twilio;

use std::collections::BTreeMap;
use std::time::Duration;

use rampart_platform::config::Settings;
use rampart_platform::secrets::Secrets;
use rampart_platform::secrets::local::LocalSource;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What `send` knows of one provider: for `--list`, and to refuse what it cannot build.
pub struct Spec {
    pub name: &'static str,
    /// The events it builds (`*`: any event type).
    pub events: &'static [&'static str],
    pub flags: &'static [(&'static str, &'static str)],
}

/// Every provider `send` can sign for.
pub const PROVIDERS: &[Spec] = &[
    stripe::SPEC,
    square::SPEC,
    docusign::SPEC,
    twilio::SPEC,
    standard::SPEC,
    mock::SPEC,
];

/// `--name value` pairs after the provider and the event.
#[derive(Debug, Default, Clone)]
pub struct Flags(BTreeMap<String, String>);

impl Flags {
    pub fn parse(args: &[String]) -> Result<Self, Error> {
        let mut out = BTreeMap::new();
        let mut it = args.iter();
        while let Some(name) = it.next() {
            let Some(name) = name.strip_prefix("--") else {
                return Err(
                    format!("unexpected argument `{name}`: flags are `--name value`").into(),
                );
            };
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            out.insert(name.to_string(), value.clone());
        }
        Ok(Self(out))
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// What a provider file needs to build a delivery.
pub struct Ctx<'a> {
    pub settings: &'a Settings,
    pub secrets: &'a Secrets,
    pub flags: &'a Flags,
    /// Epoch seconds: the time the signature and the payload state.
    pub now: i64,
}

impl Ctx<'_> {
    /// The signing secret: the first entry of `name` (any accepted entry verifies).
    pub async fn secret(&self, name: &str) -> Result<String, Error> {
        self.secrets
            .entries(name)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                format!(
                    "{name} is not set (the local stack generates it in .data/dev-secrets.json)"
                )
                .into()
            })
    }
}

/// One signed delivery, ready to post.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Path and query on the stack.
    pub path: String,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// The event key the intake records it under: provider (`standard:<source>` for Standard
    /// Webhooks) and event id.
    pub provider: String,
    pub event_id: String,
}

/// The answer the stack gave.
#[derive(Debug, Clone)]
pub struct Sent {
    pub delivery: Outgoing,
    pub status: u16,
    pub body: String,
}

/// Builds the delivery for `provider`/`event`, checking both against `PROVIDERS` first.
pub async fn build(provider: &str, event: &str, ctx: &Ctx<'_>) -> Result<Outgoing, Error> {
    let spec = PROVIDERS
        .iter()
        .find(|p| p.name == provider)
        .ok_or_else(|| format!("unknown provider `{provider}`; `send --list` shows them"))?;
    if !spec.events.contains(&"*") && !spec.events.contains(&event) {
        return Err(format!(
            "{provider} has no event `{event}`; it sends: {}",
            spec.events.join(", ")
        )
        .into());
    }
    if let Some(bad) = ctx.flags.0.keys().find(|f| {
        *f != "url"
            && !spec
                .flags
                .iter()
                .any(|(name, _)| name.trim_start_matches("--") == *f)
    }) {
        return Err(format!("{provider} takes no --{bad}; `send --list` shows its flags").into());
    }
    match provider {
        "stripe" => stripe::build(event, ctx).await,
        "square" => square::build(event, ctx).await,
        "docusign" => docusign::build(event, ctx).await,
        "twilio" => twilio::build(event, ctx).await,
        "standard" => standard::build(event, ctx).await,
        _ => mock::build(event, ctx).await,
    }
}

/// Posts a delivery to the stack at `base` (`http://127.0.0.1:3000`).
pub async fn post(base: &str, delivery: Outgoing) -> Result<Sent, Error> {
    let mut req = reqwest::Client::new()
        .post(format!("{}{}", base.trim_end_matches('/'), delivery.path))
        .header("content-type", delivery.content_type)
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        req = req.header(*name, value);
    }
    let resp = req.send().await.map_err(|e| {
        format!("no stack answered at {base} ({e}); start it with `cargo run -p rampart-local`")
    })?;
    Ok(Sent {
        status: resp.status().as_u16(),
        body: resp.text().await.unwrap_or_default(),
        delivery,
    })
}

/// Builds, signs and posts one delivery.
pub async fn send(provider: &str, event: &str, ctx: &Ctx<'_>, base: &str) -> Result<Sent, Error> {
    post(base, build(provider, event, ctx).await?).await
}

/// What `send --list` prints.
pub fn list() -> String {
    let mut out = String::from("rampart-local send <provider> <event> [flags] [--url <base>]\n");
    for p in PROVIDERS {
        out.push_str(&format!(
            "\n{}\n  events: {}\n",
            p.name,
            p.events.join(", ")
        ));
        for (flag, doc) in p.flags {
            out.push_str(&format!("  {flag:<12} {doc}\n"));
        }
    }
    out
}

/// Where `send` posts: `--url`, else the stack's `BIND_ADDR` as a client reaches it (a wildcard
/// bind such as `0.0.0.0:3000` is no address to send to: loopback on its port).
pub fn base_url(flags: &Flags, settings: &Settings) -> String {
    flags
        .get("url")
        .map_or_else(|| crate::local_url(settings.bind_addr), str::to_string)
}

/// The command: `args` is everything after `send`.
pub async fn run(args: &[String]) -> Result<(), Error> {
    let usage = "usage: rampart-local send <provider> <event> [flags] (`send --list` shows them)";
    if args.first().is_some_and(|a| a == "--list") {
        print!("{}", list());
        return Ok(());
    }
    let (Some(provider), Some(event)) = (args.first(), args.get(1)) else {
        return Err(usage.into());
    };
    let flags = Flags::parse(&args[2..])?;
    let settings = Settings::from_env()?;
    let source = LocalSource::from_env(Some(settings.data_dir.join("dev-secrets.json")));
    let secrets = Secrets::new(
        Box::new(source),
        rampart_platform::clock::system(),
        Duration::from_secs(300),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let ctx = Ctx {
        settings: &settings,
        secrets: &secrets,
        flags: &flags,
        now,
    };
    let base = base_url(&flags, &settings);
    let sent = send(provider, event, &ctx, &base).await?;
    println!(
        "{provider} {event} {} -> {} {}",
        sent.delivery.event_id, base, sent.status
    );
    println!("{}", sent.body);
    if !(200..300).contains(&sent.status) {
        return Err(format!("the stack answered {}", sent.status).into());
    }
    Ok(())
}
