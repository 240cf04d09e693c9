//! Brings the bundle up as template.yaml declares it, on loopback: a moto server of its own with
//! IAM enforced, the template's tables, queues and secret created in it (the secret then filled
//! in by `scripts/provision-secrets`, as docs/deploy.md says), one IAM user per function holding
//! its role's statements, the SES sender verified, localstripe over TLS standing in for Stripe,
//! each function's binary under its own Runtime API emulator, the HTTP API and function URL
//! fronts, and the SQS event source mapping.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};

use super::front;
use super::iam::Names;
use super::lambda::Function;
use super::proxy::{Principal, Proxy};
use super::sqs::{Mapping, Stats};
use super::template::{self, ACCOUNT, Ctx, FunctionSpec, REGION, Template, repo, scalar};

/// Variables the harness sets beside the template's: what Lambda itself sets for every
/// function (AWS Lambda Developer Guide, "Defined runtime environment variables"; the
/// credentials are the function's IAM user standing for its role), and where the outside
/// world is on this machine. The template may set none of them.
pub const RUNTIME_VARIABLES: &[&str] = &[
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "_HANDLER",
    "TZ",
];
/// The outside world: AWS (moto, through the authorizing proxy), Stripe (localstripe over TLS)
/// and the CA that signed its certificate.
pub const WORLD_VARIABLES: &[&str] = &["AWS_ENDPOINT_URL", "STRIPE_API_BASE", "SSL_CERT_FILE"];

/// Test values for the provider-issued secrets, stored by the provisioning script as an
/// operator stores what the providers' dashboards show.
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_DeployedShape0123456789abcdefGHIJ";
pub const STRIPE_API_KEY: &str = "sk_test_DeployedShape0123456789abcdef";
pub const TWILIO_AUTH_TOKEN: &str = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6";

/// Kills a peer process when the stack goes.
pub struct Peer(pub Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Stack {
    pub template: Template,
    pub ctx: Ctx,
    pub specs: Vec<FunctionSpec>,
    /// By logical id.
    pub functions: Arc<BTreeMap<String, Arc<Function>>>,
    pub api: String,
    pub url: String,
    pub proxy: Proxy,
    /// The AWS endpoint the functions use (the authorizing proxy).
    pub proxy_url: String,
    /// Each function's access key (id, secret), by logical id.
    pub keys: BTreeMap<String, (String, String)>,
    pub admin: aws_config::SdkConfig,
    pub admin_token: String,
    pub http: reqwest::Client,
    pub mapping_stats: Vec<Arc<Stats>>,
    stop: Arc<AtomicBool>,
    /// moto and localstripe; the test shares the stack as `'static`, so they are stopped by
    /// `shut_down`, not by a drop.
    peers: std::sync::Mutex<Vec<Peer>>,
    pub scratch: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for(url: &str, what: &str, peer: &mut Child) -> Result<(), String> {
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(status)) = peer.try_wait() {
            return Err(format!("{what} exited ({status})"));
        }
        let ok = Command::new(template::venv_python())
            .args([
                "-c",
                &format!("import urllib.request; urllib.request.urlopen('{url}', timeout=1)"),
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("{what} did not answer at {url}"))
}

/// Where the last run's report goes (`./scripts/test` prints it): the scenarios with their
/// times and the granted permissions no flow used.
pub fn report_path() -> PathBuf {
    bin_dir().join("deployed-shape.txt")
}

/// `target/debug`, where cargo put this test binary's siblings.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf()
}

/// Builds every function binary of the workspace in the test profile's feature set (the same
/// units `cargo test --workspace` built, so only the binaries are linked).
fn build_binaries(specs: &[FunctionSpec]) -> Result<(), String> {
    if std::env::var("RAMPART_DEPLOYED_NO_BUILD").is_ok_and(|v| v == "1") {
        return Ok(());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    // What cargo sets for this test process (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, OUT_DIR, ...)
    // must not reach the inner cargo: build scripts (ring's) rerun when those change, and the
    // whole tree above them would be rebuilt, here and again by the next outer build.
    for (k, _) in std::env::vars() {
        let keep = ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_INCREMENTAL"].contains(&k.as_str())
            || [
                "CARGO_BUILD_",
                "CARGO_NET_",
                "CARGO_HTTP_",
                "CARGO_REGISTR",
                "CARGO_TERM_",
                "CARGO_PROFILE_",
            ]
            .iter()
            .any(|p| k.starts_with(p));
        if (k.starts_with("CARGO") && !keep) || k == "OUT_DIR" {
            cmd.env_remove(&k);
        }
    }
    cmd.current_dir(repo())
        .args(["build", "--workspace", "--tests", "--locked"]);
    for s in specs {
        cmd.args(["--bin", &s.binary]);
    }
    let status = cmd.status().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("building the function binaries failed".into());
    }
    Ok(())
}

async fn sdk(endpoint: &str, key: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(rampart_platform::aws_http::client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            key, secret, None, None, "deployed",
        ))
        .load()
        .await
}

/// IAM calls through boto3 (the venv has it: moto depends on it), signed with `creds`. The
/// very first ones, the harness operator's, go through unchecked: moto lets exactly the first
/// `INITIAL_NO_AUTH_ACTION_COUNT` calls pass.
fn iam_calls(moto: &str, creds: (&str, &str), calls: &Value) -> Result<Vec<Value>, String> {
    let out = Command::new(template::venv_python())
        .args([
            "-c",
            "import sys, json, boto3\n\
             iam = boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                 aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])\n\
             print(json.dumps([getattr(iam, c['op'])(**c['args']) for c in json.loads(sys.argv[4])], default=str))",
            moto,
            creds.0,
            creds.1,
            &calls.to_string(),
        ])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "IAM calls failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

/// The statements as moto can enforce them: actions only (it treats every resource as `*` and
/// ignores conditions; the proxy checks those), plus `dynamodb:TransactWriteItems` where the
/// item actions a transaction needs are granted (AWS has no such IAM action; moto asks for it).
fn moto_policy(statements: &[Value]) -> Value {
    let mut out = Vec::new();
    for st in statements {
        let mut actions: Vec<String> = match &st["Action"] {
            Value::Array(a) => a.iter().map(scalar).collect(),
            v => vec![scalar(v)],
        };
        if actions.iter().any(|a| {
            matches!(
                a.as_str(),
                "dynamodb:PutItem" | "dynamodb:UpdateItem" | "dynamodb:DeleteItem"
            )
        }) {
            actions.push("dynamodb:TransactWriteItems".into());
        }
        out.push(json!({"Effect": st["Effect"], "Action": actions, "Resource": "*"}));
    }
    json!({"Version": "2012-10-17", "Statement": out})
}

/// IAM users holding `(user, policy)` each, and their access keys (id, secret), in one go.
fn principals(
    moto: &str,
    creds: (&str, &str),
    users: &[(String, Value)],
) -> Result<Vec<(String, String)>, String> {
    let mut calls = Vec::new();
    for (user, policy) in users {
        calls.push(json!({"op": "create_user", "args": {"UserName": user}}));
        calls.push(json!({"op": "put_user_policy", "args": {"UserName": user, "PolicyName": "role", "PolicyDocument": policy.to_string()}}));
        calls.push(json!({"op": "create_access_key", "args": {"UserName": user}}));
    }
    let out = iam_calls(moto, creds, &Value::Array(calls))?;
    Ok(out
        .chunks(3)
        .map(|c| {
            let key = &c[2]["AccessKey"];
            (scalar(&key["AccessKeyId"]), scalar(&key["SecretAccessKey"]))
        })
        .collect())
}

fn suffix() -> String {
    rampart_platform::crypto::random_id()[..8].to_uppercase()
}

/// CloudFormation's GenerateSecretString for the template's secret: the template object with
/// one generated key.
fn generated_secret(spec: &Value) -> String {
    let mut object: serde_json::Map<String, Value> = spec["SecretStringTemplate"]
        .as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    if let Some(key) = spec["GenerateStringKey"].as_str() {
        let len = spec["PasswordLength"].as_u64().unwrap_or(32) as usize;
        let mut value = String::new();
        while value.len() < len {
            value.extend(
                rampart_platform::crypto::random_token(32)
                    .chars()
                    .filter(char::is_ascii_alphanumeric),
            );
        }
        value.truncate(len);
        object.insert(key.to_string(), Value::String(value));
    }
    Value::Object(object).to_string()
}

impl Stack {
    pub async fn up() -> Result<Self, String> {
        let template = template::load()?;
        let function_ids: Vec<String> = template
            .of_type("AWS::Serverless::Function")
            .map(|(id, _)| id.clone())
            .collect();
        let scratch = std::env::temp_dir().join(format!(
            "rampart-deployed-{}-{}",
            std::process::id(),
            suffix()
        ));
        std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
        let mut peers = Vec::new();

        // moto, checking IAM after the three calls that make the harness's operator.
        let port = free_port();
        let moto = format!("http://127.0.0.1:{port}");
        let bootstrap = 3;
        let log = std::fs::File::create(scratch.join("moto.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(template::venv_python())
            .arg(repo().join("scripts/moto_server.py"))
            .args(["127.0.0.1", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", bootstrap.to_string())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("moto: {e}"))?;
        wait_for(&format!("{moto}/moto-api/"), "moto", &mut child)?;
        peers.push(Peer(child));

        // localstripe, over TLS for the functions (production wants an https Stripe).
        let (sport, tport) = (free_port(), free_port());
        let tls_dir = scratch.join("tls");
        let mut child = Command::new(template::venv_python())
            .arg(repo().join("scripts/localstripe_server.py"))
            .args(["127.0.0.1", &sport.to_string(), "--tls", &tport.to_string()])
            .arg(&tls_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("localstripe: {e}"))?;
        let stripe = format!("http://127.0.0.1:{sport}");
        wait_for(
            &format!("{stripe}/_config/calls"),
            "localstripe",
            &mut child,
        )?;
        peers.push(Peer(child));

        let admin_policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let (ak, sk) = principals(
            &moto,
            ("bootstrap", "bootstrap"),
            &[("harness-operator".to_string(), admin_policy)],
        )?
        .remove(0);
        let admin = sdk(&moto, &ak, &sk).await;

        let mut ctx = Ctx::new(&template);
        let mut names = Names::default();
        let stack_name = template.stack.clone();
        let physical = |id: &str| format!("{stack_name}-{id}-{}", suffix());

        // Tables.
        let ddb = aws_sdk_dynamodb::Client::new(&admin);
        for (id, res) in template.of_type("AWS::DynamoDB::Table") {
            let p = &res["Properties"];
            let name = physical(id);
            let key = |k: &Value| {
                KeySchemaElement::builder()
                    .attribute_name(scalar(&k["AttributeName"]))
                    .key_type(KeyType::from(scalar(&k["KeyType"]).as_str()))
                    .build()
                    .expect("key")
            };
            let mut req = ddb
                .create_table()
                .table_name(&name)
                .billing_mode(BillingMode::PayPerRequest)
                .deletion_protection_enabled(p["DeletionProtectionEnabled"] == true);
            for a in p["AttributeDefinitions"].as_array().into_iter().flatten() {
                req = req.attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(scalar(&a["AttributeName"]))
                        .attribute_type(ScalarAttributeType::from(
                            scalar(&a["AttributeType"]).as_str(),
                        ))
                        .build()
                        .expect("attribute"),
                );
            }
            let hash = |ks: &Value| {
                ks.as_array()
                    .into_iter()
                    .flatten()
                    .find(|k| k["KeyType"] == "HASH")
                    .map(|k| scalar(&k["AttributeName"]))
                    .unwrap_or_default()
            };
            for k in p["KeySchema"].as_array().into_iter().flatten() {
                req = req.key_schema(key(k));
            }
            let mut indexes = BTreeMap::new();
            for g in p["GlobalSecondaryIndexes"].as_array().into_iter().flatten() {
                let mut gsi = GlobalSecondaryIndex::builder()
                    .index_name(scalar(&g["IndexName"]))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                scalar(&g["Projection"]["ProjectionType"]).as_str(),
                            ))
                            .build(),
                    );
                for k in g["KeySchema"].as_array().into_iter().flatten() {
                    gsi = gsi.key_schema(key(k));
                }
                indexes.insert(scalar(&g["IndexName"]), hash(&g["KeySchema"]));
                req = req.global_secondary_indexes(gsi.build().expect("gsi"));
            }
            req.send()
                .await
                .map_err(|e| format!("create {id}: {e:?}"))?;
            if let Some(ttl) = p["TimeToLiveSpecification"]["AttributeName"].as_str() {
                ddb.update_time_to_live()
                    .table_name(&name)
                    .time_to_live_specification(
                        TimeToLiveSpecification::builder()
                            .attribute_name(ttl)
                            .enabled(true)
                            .build()
                            .expect("ttl"),
                    )
                    .send()
                    .await
                    .map_err(|e| format!("ttl {id}: {e:?}"))?;
            }
            let arn = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}");
            names
                .tables
                .insert(name.clone(), (arn.clone(), hash(&p["KeySchema"]), indexes));
            ctx.values.insert(id.clone(), name);
            ctx.attrs.insert((id.clone(), "Arn".into()), arn);
        }

        // Queues, dead-letter targets first.
        let sqs = aws_sdk_sqs::Client::new(&admin);
        let mut queues: Vec<(&String, &Value)> = template.of_type("AWS::SQS::Queue").collect();
        queues.sort_by_key(|(_, q)| q["Properties"].get("RedrivePolicy").is_some());
        for (id, res) in queues {
            let p = ctx.resolve(&res["Properties"])?;
            let name = physical(id);
            let mut req = sqs.create_queue().queue_name(&name);
            for (attr, v) in [
                (
                    QueueAttributeName::VisibilityTimeout,
                    &p["VisibilityTimeout"],
                ),
                (
                    QueueAttributeName::MessageRetentionPeriod,
                    &p["MessageRetentionPeriod"],
                ),
            ] {
                if !v.is_null() {
                    req = req.attributes(attr, scalar(v));
                }
            }
            if !p["RedrivePolicy"].is_null() {
                req = req.attributes(
                    QueueAttributeName::RedrivePolicy,
                    p["RedrivePolicy"].to_string(),
                );
            }
            let url = req
                .send()
                .await
                .map_err(|e| format!("create {id}: {e:?}"))?
                .queue_url
                .ok_or("no queue url")?;
            let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
            names.queues.insert(url.clone(), arn.clone());
            ctx.values.insert(id.clone(), url.clone());
            ctx.attrs.insert((id.clone(), "Arn".into()), arn);
            ctx.attrs.insert((id.clone(), "QueueName".into()), name);
            ctx.attrs.insert((id.clone(), "QueueUrl".into()), url);
        }

        // The secret, as CloudFormation creates it.
        let sm = aws_sdk_secretsmanager::Client::new(&admin);
        let mut secret_arn = String::new();
        for (id, res) in template.of_type("AWS::SecretsManager::Secret") {
            let p = &res["Properties"];
            let name = physical(id);
            let arn = sm
                .create_secret()
                .name(&name)
                .secret_string(generated_secret(&p["GenerateSecretString"]))
                .send()
                .await
                .map_err(|e| format!("create {id}: {e:?}"))?
                .arn
                .ok_or("no secret arn")?;
            names.secrets.insert(name.clone(), arn.clone());
            names.secrets.insert(arn.clone(), arn.clone());
            ctx.values.insert(id.clone(), arn.clone());
            secret_arn = arn;
        }

        // What the rest of the template refers to.
        for id in &function_ids {
            let name = format!("{stack_name}-{id}");
            ctx.attrs.insert(
                (id.clone(), "Arn".into()),
                format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            );
            ctx.attrs.insert(
                (format!("{id}Url"), "FunctionUrl".into()),
                format!("https://{}/", front::url_domain()),
            );
            ctx.values.insert(id.clone(), name);
        }
        for (id, _) in template.of_type("AWS::Serverless::HttpApi") {
            ctx.values.insert(id.clone(), front::API_ID.into());
        }
        for (id, res) in template.of_type("AWS::Logs::LogGroup") {
            let name = ctx.resolve(&res["Properties"]["LogGroupName"])?;
            ctx.values.insert(id.clone(), scalar(&name));
            ctx.attrs.insert(
                (id.clone(), "Arn".into()),
                format!(
                    "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}",
                    scalar(&name)
                ),
            );
        }
        let specs = template::functions(&template, &ctx)?;

        // The deploy steps docs/deploy.md gives: verify the sender, provision the secret.
        if let Some(from) = template.params.get("MailFrom") {
            aws_sdk_sesv2::Client::new(&admin)
                .create_email_identity()
                .email_identity(from)
                .send()
                .await
                .map_err(|e| format!("verify {from}: {e:?}"))?;
        }
        let out = Command::new(template::venv_python())
            .arg(repo().join("scripts/provision-secrets"))
            .args(["--secret-id", &secret_arn, "--region", REGION])
            .env("AWS_ENDPOINT_URL", &moto)
            .env("AWS_ACCESS_KEY_ID", &ak)
            .env("AWS_SECRET_ACCESS_KEY", &sk)
            .env("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET)
            .env("STRIPE_API_KEY", STRIPE_API_KEY)
            .env("TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN)
            .output()
            .map_err(|e| format!("scripts/provision-secrets: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/provision-secrets failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let secret: Value = serde_json::from_str(
            &sm.get_secret_value()
                .secret_id(&secret_arn)
                .send()
                .await
                .map_err(|e| format!("read the secret: {e:?}"))?
                .secret_string
                .unwrap_or_default(),
        )
        .map_err(|e| e.to_string())?;
        let admin_token = scalar(&secret["ADMIN_API_TOKEN"]);

        // One IAM user per function, holding its role's statements.
        let mut by_key = BTreeMap::new();
        let mut keys = BTreeMap::new();
        let users: Vec<(String, Value)> = specs
            .iter()
            .map(|s| (s.name.clone(), moto_policy(&s.statements)))
            .collect();
        let created = principals(&moto, (&ak, &sk), &users)?;
        for (s, (k, secret)) in specs.iter().zip(created) {
            by_key.insert(
                k.clone(),
                Arc::new(Principal {
                    function: s.logical_id.clone(),
                    statements: s.statements.clone(),
                    usage: Default::default(),
                }),
            );
            keys.insert(s.logical_id.clone(), (k, secret));
        }
        let (proxy_url, proxy) = Proxy::start(&moto, names, by_key).await;

        build_binaries(&specs)?;
        let bins = bin_dir();
        let mut functions = BTreeMap::new();
        for s in &specs {
            for k in s.env.keys() {
                if RUNTIME_VARIABLES.contains(&k.as_str()) || WORLD_VARIABLES.contains(&k.as_str())
                {
                    return Err(format!(
                        "{}: the template sets {k}, which Lambda or the harness sets",
                        s.logical_id
                    ));
                }
            }
            let (k, secret) = &keys[&s.logical_id];
            let mut env = s.env.clone();
            for (name, value) in [
                ("AWS_LAMBDA_FUNCTION_NAME", s.name.clone()),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", s.memory_mb.to_string()),
                (
                    "AWS_LAMBDA_LOG_GROUP_NAME",
                    format!("/aws/lambda/{}", s.name),
                ),
                (
                    "AWS_LAMBDA_LOG_STREAM_NAME",
                    "2026/12/01/[$LATEST]deployed".into(),
                ),
                ("AWS_REGION", REGION.into()),
                ("AWS_DEFAULT_REGION", REGION.into()),
                ("AWS_ACCESS_KEY_ID", k.clone()),
                ("AWS_SECRET_ACCESS_KEY", secret.clone()),
                ("_HANDLER", "bootstrap".into()),
                ("TZ", ":UTC".into()),
                ("AWS_ENDPOINT_URL", proxy_url.clone()),
                ("STRIPE_API_BASE", format!("https://127.0.0.1:{tport}")),
                (
                    "SSL_CERT_FILE",
                    tls_dir.join("ca.pem").to_string_lossy().into_owned(),
                ),
            ] {
                env.insert(name.to_string(), value);
            }
            let program = bins.join(&s.binary);
            if !program.exists() {
                return Err(format!(
                    "{}: no binary at {}",
                    s.logical_id,
                    program.display()
                ));
            }
            let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", s.name);
            functions.insert(
                s.logical_id.clone(),
                Arc::new(Function::new(
                    &s.logical_id,
                    program,
                    arn,
                    Duration::from_secs(s.timeout_secs),
                    env,
                )),
            );
        }
        let functions = Arc::new(functions);

        let routes: Vec<_> = specs.iter().flat_map(|s| s.routes.clone()).collect();
        let api = front::serve(routes, functions.clone(), None).await;
        let url_targets: Vec<&FunctionSpec> = specs.iter().filter(|s| s.function_url).collect();
        let url = match url_targets.as_slice() {
            [one] => {
                front::serve(Vec::new(), functions.clone(), Some(one.logical_id.clone())).await
            }
            other => return Err(format!("expected one function URL, found {}", other.len())),
        };

        // The event source mappings, each polling with its function's role.
        let stop = Arc::new(AtomicBool::new(false));
        let mut mapping_stats = Vec::new();
        for (id, res) in template.of_type("AWS::Lambda::EventSourceMapping") {
            let p = ctx.resolve(&res["Properties"])?;
            let function = scalar(&p["FunctionName"]);
            let spec = specs
                .iter()
                .find(|s| s.name == function)
                .ok_or_else(|| format!("{id}: no function {function}"))?;
            let arn = scalar(&p["EventSourceArn"]);
            let queue_url = ctx
                .attrs
                .iter()
                .find(|((_, a), v)| a == "Arn" && **v == arn)
                .and_then(|((q, _), _)| ctx.values.get(q).cloned())
                .ok_or_else(|| format!("{id}: no queue {arn}"))?;
            let (k, secret) = &keys[&spec.logical_id];
            let stats = Arc::new(Stats::default());
            mapping_stats.push(stats.clone());
            let mapping = Mapping {
                queue_url,
                queue_arn: arn,
                batch_size: p["BatchSize"].as_i64().unwrap_or(10) as i32,
                window: Duration::from_secs(
                    p["MaximumBatchingWindowInSeconds"].as_u64().unwrap_or(0),
                ),
                report_failures: p["FunctionResponseTypes"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|v| v == "ReportBatchItemFailures")),
                client: aws_sdk_sqs::Client::new(&sdk(&proxy_url, k, secret).await),
                admin: sqs.clone(),
                function: functions[&spec.logical_id].clone(),
                stats,
                stop: stop.clone(),
            };
            tokio::spawn(mapping.run());
        }

        Ok(Self {
            template,
            ctx,
            specs,
            functions,
            api: format!("http://{api}"),
            url: format!("http://{url}"),
            proxy,
            proxy_url,
            keys,
            admin,
            admin_token,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            mapping_stats,
            stop,
            peers: std::sync::Mutex::new(peers),
            scratch,
        })
    }

    /// The logical id of the function whose binary is `binary`.
    pub fn by_binary(&self, binary: &str) -> &FunctionSpec {
        self.specs
            .iter()
            .find(|s| s.binary == binary)
            .unwrap_or_else(|| panic!("no function builds {binary} in template.yaml"))
    }

    pub fn function(&self, binary: &str) -> Arc<Function> {
        self.functions[&self.by_binary(binary).logical_id].clone()
    }

    /// The URL of a resource's `Ref` (a queue's URL).
    pub fn queue_url(&self, logical_id: &str) -> String {
        self.ctx.values[logical_id].clone()
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.admin)
    }

    /// An asynchronous invocation (what EventBridge Scheduler makes): Lambda retries a failed
    /// one `MaximumRetryAttempts` times, then sends the invocation record to the on-failure
    /// destination with the function's own role (AWS Lambda Developer Guide, "Capturing records
    /// of Lambda asynchronous invocations"). The last attempt's answer.
    pub async fn invoke_async(
        &self,
        binary: &str,
        payload: &serde_json::Value,
    ) -> Result<bytes::Bytes, String> {
        let spec = self.by_binary(binary);
        let f = self.function(binary);
        let mut last = String::new();
        for _ in 0..=spec.max_retry_attempts {
            match f.invoke(bytes::Bytes::from(payload.to_string())).await {
                Ok(out) => return Ok(out),
                Err(e) => last = e.to_string(),
            }
        }
        if let Some(dest) = &spec.on_failure {
            let (k, secret) = &self.keys[&spec.logical_id];
            let record = json!({
                "version": "1.0",
                "requestContext": {"functionArn": f.arn, "condition": "RetriesExhausted",
                    "approximateInvokeCount": spec.max_retry_attempts + 1},
                "requestPayload": payload,
                "responsePayload": {"errorMessage": last},
            });
            let url = self
                .ctx
                .attrs
                .iter()
                .find(|((_, a), v)| a == "Arn" && *v == dest)
                .and_then(|((q, _), _)| self.ctx.values.get(q).cloned())
                .ok_or_else(|| format!("no queue for the destination {dest}"))?;
            aws_sdk_sqs::Client::new(&sdk(&self.proxy_url, k, secret).await)
                .send_message()
                .queue_url(url)
                .message_body(record.to_string())
                .send()
                .await
                .map_err(|e| format!("the on-failure destination refused the record: {e:?}"))?;
        }
        Err(last)
    }

    /// Stops the event source mappings, the functions, moto and localstripe, and removes the
    /// scratch directory.
    pub async fn shut_down(&self) {
        self.stop.store(true, Ordering::Relaxed);
        for f in self.functions.values() {
            f.stop().await;
        }
        self.peers.lock().expect("peers").clear();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
