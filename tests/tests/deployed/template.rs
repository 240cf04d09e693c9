//! template.yaml as the harness reads it: decoded by cfn-lint's decoder (`scripts/cfn_template.py`,
//! which also checks the parameter values as CloudFormation would), parameters from
//! `samconfig.toml.example`, intrinsic functions resolved against the resources the harness
//! created, and each function's deployed shape (binary, environment, timeout, policy, routes,
//! schedules) read from its declaration with the `Globals` merged in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The Python of the test peers' venv (`scripts/peers.sh` installs cfn-lint and moto there).
pub fn venv_python() -> PathBuf {
    repo().join(".tools/venv/bin/python")
}

pub struct Template {
    pub json: Value,
    pub stack: String,
    /// Every parameter's value: samconfig.toml.example's overrides, else the default.
    pub params: BTreeMap<String, String>,
    /// Every entry of `Conditions`, evaluated against the parameters.
    pub conditions: BTreeMap<String, bool>,
}

impl Template {
    /// The resources CloudFormation would create: those whose `Condition` holds.
    pub fn resources(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.json["Resources"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(_, r)| {
                r["Condition"]
                    .as_str()
                    .is_none_or(|c| self.conditions.get(c).copied().unwrap_or(false))
            })
    }

    pub fn of_type<'a>(&'a self, t: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.resources().filter(move |(_, r)| r["Type"] == t)
    }
}

/// `stack_name` and `parameter_overrides` of samconfig.toml.example's deploy section (the
/// string form SAM writes: space-separated `Key=Value`, double quotes around a value with
/// spaces).
fn samconfig(text: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut section = "";
    let mut stack = None;
    let mut overrides = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let unquoted = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        match (section, k.trim()) {
            ("[default.deploy.parameters]", "stack_name") => stack = Some(unquoted.to_string()),
            ("[default.deploy.parameters]", "parameter_overrides") => {
                overrides = Some(unquoted.replace("\\\"", "\""))
            }
            _ => {}
        }
    }
    let stack = stack.ok_or("samconfig.toml.example has no deploy stack_name")?;
    let mut pairs = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in overrides.unwrap_or_default().chars().chain([' ']) {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    let (k, v) = word
                        .split_once('=')
                        .ok_or_else(|| format!("parameter override {word:?} is not Key=Value"))?;
                    pairs.push((k.to_string(), v.to_string()));
                    word.clear();
                }
            }
            c => word.push(c),
        }
    }
    Ok((stack, pairs))
}

/// Reads template.yaml with samconfig.toml.example's parameters, refusing what CloudFormation
/// would refuse before creating anything (a required parameter without a value, a value
/// outside its pattern).
pub fn load() -> Result<Template, String> {
    let root = repo();
    let text = std::fs::read_to_string(root.join("samconfig.toml.example"))
        .map_err(|e| format!("samconfig.toml.example: {e}"))?;
    let (stack, overrides) = samconfig(&text)?;
    let out = Command::new(venv_python())
        .arg(root.join("scripts/cfn_template.py"))
        .arg(root.join("template.yaml"))
        .args(overrides.iter().map(|(k, v)| format!("{k}={v}")))
        .output()
        .map_err(|e| format!("cannot run scripts/cfn_template.py (run scripts/test once to install .tools/venv): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/cfn_template.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let decoded: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let problems: Vec<String> = decoded["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    if !problems.is_empty() {
        return Err(format!(
            "CloudFormation would refuse samconfig.toml.example's parameters:\n  {}",
            problems.join("\n  ")
        ));
    }
    let json = decoded["template"].clone();
    let given: BTreeMap<String, String> = overrides.into_iter().collect();
    let mut params = BTreeMap::new();
    for (name, spec) in json["Parameters"].as_object().into_iter().flatten() {
        let value = given
            .get(name)
            .cloned()
            .or_else(|| spec.get("Default").map(scalar))
            .unwrap_or_default();
        params.insert(name.clone(), value);
    }
    let mut t = Template {
        json,
        stack,
        params,
        conditions: BTreeMap::new(),
    };
    t.conditions = evaluate_conditions(&t)?;
    Ok(t)
}

/// `Conditions` as CloudFormation evaluates them before creating anything: from parameters
/// and other conditions only (in any order: a condition may name one declared after it).
fn evaluate_conditions(t: &Template) -> Result<BTreeMap<String, bool>, String> {
    let declared = t.json["Conditions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut ctx = Ctx::new(t);
    while ctx.conditions.len() < declared.len() {
        let before = ctx.conditions.len();
        for (name, expr) in &declared {
            if ctx.conditions.contains_key(name) {
                continue;
            }
            if let Ok(v) = ctx.condition(expr) {
                ctx.conditions.insert(name.clone(), v);
            }
        }
        if ctx.conditions.len() == before {
            let left: Vec<_> = declared
                .keys()
                .filter(|k| !ctx.conditions.contains_key(*k))
                .collect();
            return Err(format!("Conditions the harness cannot evaluate: {left:?}"));
        }
    }
    Ok(ctx.conditions)
}

/// A JSON scalar as CloudFormation hands it to a string property.
pub fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// What `Ref` and `Fn::GetAtt` of each resource resolve to, filled in as the harness creates
/// them, with the template's parameters and the pseudo parameters.
#[derive(Default, Clone)]
pub struct Ctx {
    pub values: BTreeMap<String, String>,
    pub attrs: BTreeMap<(String, String), String>,
    pub conditions: BTreeMap<String, bool>,
}

impl Ctx {
    pub fn new(t: &Template) -> Self {
        let mut values = t.params.clone();
        for (k, v) in [
            ("AWS::StackName", t.stack.as_str()),
            ("AWS::Region", REGION),
            ("AWS::AccountId", ACCOUNT),
            ("AWS::Partition", "aws"),
            ("AWS::URLSuffix", "amazonaws.com"),
        ] {
            values.insert(k.into(), v.into());
        }
        Self {
            values,
            attrs: BTreeMap::new(),
            conditions: t.conditions.clone(),
        }
    }

    /// A condition expression: `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or` and `Condition`.
    pub fn condition(&self, v: &Value) -> Result<bool, String> {
        let (k, arg) = v
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next())
            .ok_or_else(|| format!("not a condition: {v}"))?;
        let list = || arg.as_array().ok_or_else(|| format!("{k}: not a list"));
        match k.as_str() {
            "Condition" => self
                .conditions
                .get(&scalar(arg))
                .copied()
                .ok_or_else(|| format!("Condition {arg}: not evaluated")),
            "Fn::Equals" => {
                let a = list()?;
                Ok(scalar(&self.resolve(&a[0])?) == scalar(&self.resolve(&a[1])?))
            }
            "Fn::Not" => Ok(!self.condition(&list()?[0])?),
            "Fn::And" => list()?
                .iter()
                .try_fold(true, |acc, c| Ok(acc & self.condition(c)?)),
            "Fn::Or" => list()?
                .iter()
                .try_fold(false, |acc, c| Ok(acc | self.condition(c)?)),
            other => Err(format!("{other} is not a condition function")),
        }
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        self.values
            .get(name)
            .cloned()
            .ok_or_else(|| format!("Ref {name}: nothing the harness created or knows"))
    }

    fn attr(&self, res: &str, att: &str) -> Result<String, String> {
        self.attrs
            .get(&(res.to_string(), att.to_string()))
            .cloned()
            .ok_or_else(|| format!("GetAtt {res}.{att}: nothing the harness created or knows"))
    }

    fn sub(&self, text: &str, vars: &serde_json::Map<String, Value>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Fn::Sub: unclosed ${{ in {text:?}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(v) = vars.get(name) {
                out.push_str(&scalar(&self.resolve(v)?));
            } else if let Some((res, att)) = name.split_once('.') {
                out.push_str(&self.attr(res, att)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Replaces every intrinsic function in `v` by its value. An intrinsic the harness does not
    /// know fails, so a template change it cannot follow is noticed.
    pub fn resolve(&self, v: &Value) -> Result<Value, String> {
        Ok(self.resolve_present(v)?.unwrap_or(Value::Null))
    }

    /// Like `resolve`, with `None` for `Ref AWS::NoValue` (the property is left out), so an
    /// object or a list drops that member or element. `Fn::If` takes the branch its condition
    /// picks.
    fn resolve_present(&self, v: &Value) -> Result<Option<Value>, String> {
        match v {
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().expect("one entry");
                match k.as_str() {
                    "Ref" if arg == "AWS::NoValue" => Ok(None),
                    "Fn::If" => {
                        let a = arg
                            .as_array()
                            .filter(|a| a.len() == 3)
                            .ok_or("Fn::If: not [condition, then, else]")?;
                        let name = scalar(&a[0]);
                        let holds = self
                            .conditions
                            .get(&name)
                            .copied()
                            .ok_or_else(|| format!("Fn::If: no condition {name}"))?;
                        self.resolve_present(&a[if holds { 1 } else { 2 }])
                    }
                    _ => self.intrinsic(k, arg).map(Some),
                }
            }
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    if let Some(r) = self.resolve_present(v)? {
                        out.insert(k.clone(), r);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Value::Array(a) => {
                let mut out = Vec::new();
                for v in a {
                    out.extend(self.resolve_present(v)?);
                }
                Ok(Some(Value::Array(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// A one-member object: an intrinsic function, or a plain property whose value is resolved.
    fn intrinsic(&self, k: &str, arg: &Value) -> Result<Value, String> {
        match k {
            "Ref" => Ok(Value::String(self.reference(&scalar(arg))?)),
            "Fn::GetAtt" => {
                let (res, att) = match arg {
                    Value::Array(a) if a.len() == 2 => (scalar(&a[0]), scalar(&a[1])),
                    Value::String(s) => {
                        let (r, a) = s.split_once('.').ok_or("Fn::GetAtt: no attribute")?;
                        (r.to_string(), a.to_string())
                    }
                    _ => return Err(format!("Fn::GetAtt: {arg}")),
                };
                Ok(Value::String(self.attr(&res, &att)?))
            }
            "Fn::Sub" => match arg {
                Value::String(s) => Ok(Value::String(self.sub(s, &Default::default())?)),
                Value::Array(a) if a.len() == 2 => {
                    let vars = a[1].as_object().cloned().unwrap_or_default();
                    Ok(Value::String(self.sub(&scalar(&a[0]), &vars)?))
                }
                _ => Err(format!("Fn::Sub: {arg}")),
            },
            "Fn::Join" => {
                let a = arg.as_array().ok_or("Fn::Join: not a list")?;
                let sep = scalar(&a[0]);
                let parts = self.resolve(&a[1])?;
                let parts: Vec<String> = parts
                    .as_array()
                    .ok_or("Fn::Join: no list")?
                    .iter()
                    .map(scalar)
                    .collect();
                Ok(Value::String(parts.join(&sep)))
            }
            k if k.starts_with("Fn::") || k == "Condition" => Err(format!(
                "{k} is not something the deployed-shape harness resolves (tests/tests/deployed/template.rs)"
            )),
            _ => Ok(Value::Object(
                [(k.to_string(), self.resolve(arg)?)].into_iter().collect(),
            )),
        }
    }
}

/// One `HttpApi` event: `Method Path` to a function.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
}

impl Route {
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// An EventBridge Scheduler schedule targeting a function, with the input it sends.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub input: Value,
}

/// A function as deployed: what Lambda would run and with what.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    pub name: String,
    pub binary: String,
    pub timeout_secs: u64,
    pub memory_mb: u64,
    pub env: BTreeMap<String, String>,
    /// The role's statements: the template's `Policies`, resolved, plus what SAM adds for the
    /// declared features the function's code does not call itself (an on-failure destination).
    pub statements: Vec<Value>,
    pub routes: Vec<Route>,
    pub function_url: bool,
    pub schedules: Vec<Schedule>,
    /// Where a failed asynchronous invocation's record goes (`EventInvokeConfig`).
    pub on_failure: Option<String>,
    pub max_retry_attempts: u64,
}

fn globals(t: &Template) -> &Value {
    &t.json["Globals"]["Function"]
}

/// Every `AWS::Serverless::Function`, resolved against `ctx` (which must know the resources
/// the functions refer to).
pub fn functions(t: &Template, ctx: &Ctx) -> Result<Vec<FunctionSpec>, String> {
    let g = globals(t);
    let mut out = Vec::new();
    for (id, res) in t.of_type("AWS::Serverless::Function") {
        let p = &res["Properties"];
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .ok_or_else(|| format!("{id}: no Metadata.BuildProperties.Binary"))?
            .to_string();
        let num = |k: &str, default: u64| {
            p.get(k)
                .or_else(|| g.get(k))
                .and_then(|v| v.as_u64().or_else(|| scalar(v).parse().ok()))
                .unwrap_or(default)
        };
        let mut env = BTreeMap::new();
        for vars in [
            &g["Environment"]["Variables"],
            &p["Environment"]["Variables"],
        ] {
            for (k, v) in vars.as_object().into_iter().flatten() {
                let value = scalar(&ctx.resolve(v).map_err(|e| format!("{id} {k}: {e}"))?);
                env.insert(k.clone(), value);
            }
        }
        let mut statements = Vec::new();
        for policy in p["Policies"].as_array().into_iter().flatten() {
            let resolved = ctx
                .resolve(policy)
                .map_err(|e| format!("{id} policy: {e}"))?;
            match resolved["Statement"].clone() {
                Value::Array(s) => statements.extend(s),
                s @ Value::Object(_) => statements.push(s),
                _ => {
                    return Err(format!(
                        "{id}: only inline policy documents are modelled, got {policy}"
                    ));
                }
            }
        }
        let invoke = &p["EventInvokeConfig"];
        let on_failure = match &invoke["DestinationConfig"]["OnFailure"] {
            Value::Null => None,
            d => {
                let dest = scalar(&ctx.resolve(&d["Destination"])?);
                // SAM grants the role the destination's write action (AWS SAM Developer
                // Guide, EventInvokeConfiguration: "SAM adds the needed permissions").
                let action = match d["Type"].as_str() {
                    Some("SQS") => "sqs:SendMessage",
                    Some("SNS") => "sns:Publish",
                    other => return Err(format!("{id}: on-failure destination type {other:?}")),
                };
                statements.push(json!({
                    "Sid": "SamOnFailureDestination",
                    "Effect": "Allow",
                    "Action": action,
                    "Resource": dest,
                }));
                Some(dest)
            }
        };
        let mut routes = Vec::new();
        let mut schedules = Vec::new();
        for (event, e) in p["Events"].as_object().into_iter().flatten() {
            match e["Type"].as_str() {
                Some("HttpApi") => routes.push(Route {
                    method: scalar(&e["Properties"]["Method"]).to_uppercase(),
                    path: scalar(&e["Properties"]["Path"]),
                    function: id.clone(),
                }),
                Some("ScheduleV2") | Some("Schedule") => {
                    let input = scalar(&e["Properties"]["Input"]);
                    let input = serde_json::from_str(&input)
                        .map_err(|err| format!("{id} {event} Input: {err}"))?;
                    schedules.push(Schedule {
                        name: event.clone(),
                        input,
                    });
                }
                other => return Err(format!("{id} {event}: event type {other:?} not modelled")),
            }
        }
        out.push(FunctionSpec {
            logical_id: id.clone(),
            name: ctx.values.get(id).cloned().unwrap_or_else(|| id.clone()),
            binary,
            timeout_secs: num("Timeout", 3),
            memory_mb: num("MemorySize", 128),
            env,
            statements,
            routes,
            function_url: p.get("FunctionUrlConfig").is_some(),
            schedules,
            on_failure,
            max_retry_attempts: invoke
                .get("MaximumRetryAttempts")
                .and_then(Value::as_u64)
                .unwrap_or(2),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samconfig_overrides_split_like_sam() {
        let text = "[default.deploy.parameters]\nstack_name = \"s\"\nparameter_overrides = \"A=1 B=x=y C=\\\"two words\\\"\"\n";
        let (stack, pairs) = samconfig(text).unwrap();
        assert_eq!(stack, "s");
        assert_eq!(
            pairs,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "x=y".into()),
                ("C".into(), "two words".into())
            ]
        );
    }

    #[test]
    fn conditions_pick_the_branch_and_no_value_leaves_the_property_out() {
        let mut t = Template {
            json: json!({
                "Conditions": {
                    "HasDomain": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Domain"}, ""]}]},
                    "HasZone": {"Fn::And": [{"Condition": "HasDomain"}, {"Fn::Equals": [{"Ref": "Zone"}, "Z1"]}]}
                },
                "Resources": {
                    "Always": {"Type": "T"},
                    "Record": {"Type": "T", "Condition": "HasZone"}
                }
            }),
            stack: "s".into(),
            params: [
                ("Domain".into(), "api.example.com".into()),
                ("Zone".into(), "".into()),
            ]
            .into_iter()
            .collect(),
            conditions: BTreeMap::new(),
        };
        t.conditions = evaluate_conditions(&t).unwrap();
        assert!(t.conditions["HasDomain"]);
        assert!(!t.conditions["HasZone"]);
        let names: Vec<_> = t.resources().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Always"]);
        let ctx = Ctx::new(&t);
        let env = json!({
            "ORIGIN": {"Fn::If": ["HasDomain", {"Fn::Sub": "https://${Domain}"}, ""]},
            "ZONE": {"Fn::If": ["HasZone", "yes", {"Ref": "AWS::NoValue"}]}
        });
        assert_eq!(
            ctx.resolve(&env).unwrap(),
            json!({"ORIGIN": "https://api.example.com"})
        );
    }
}
