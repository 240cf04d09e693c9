//! The authorization AWS applies to a function's calls, evaluated from its template statements:
//! each call becomes the IAM requests AWS authorizes (action, resource ARN, condition keys; a
//! transaction one per part), and an identity policy allows one when an Allow statement matches
//! its action, resource and every condition, with no Deny matching (IAM User Guide, "Policy
//! evaluation logic"). moto (with `INITIAL_NO_AUTH_ACTION_COUNT`) checks signatures and action
//! names, but treats every resource as `*` and ignores conditions; this adds what it leaves out:
//! resources, `dynamodb:LeadingKeys`, `ses:FromAddress`, and the per-part actions of
//! `TransactWriteItems`. Every allowed request is recorded, so unused grants can be listed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::template::{ACCOUNT, REGION, scalar};

/// One request as IAM sees it.
#[derive(Debug, Clone)]
pub struct Authz {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Authz {
    pub fn describe(&self) -> String {
        let ctx: Vec<String> = self
            .context
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        if ctx.is_empty() {
            format!("{} on {}", self.action, self.resource)
        } else {
            format!("{} on {} ({})", self.action, self.resource, ctx.join(", "))
        }
    }
}

/// IAM's wildcard match (`*` any run, `?` one character), case-sensitive like resource ARNs
/// and condition values; action names are matched case-insensitively by the caller.
pub fn glob(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(scalar).collect(),
        Value::Null => Vec::new(),
        v => vec![scalar(v)],
    }
}

/// A statement's conditions hold for `ctx`. Operators: `StringEquals`, `StringLike` (and their
/// `Not` forms), each optionally qualified `ForAllValues:` (every request value matches; true
/// when the request has none) or `ForAnyValue:` (some value matches). An unqualified operator
/// needs the key present. Anything else is an error, so a new operator is not silently waved
/// through.
pub fn conditions_hold(cond: &Value, ctx: &BTreeMap<String, Vec<String>>) -> Result<bool, String> {
    for (op, keys) in cond.as_object().into_iter().flatten() {
        let (qualifier, base) = match op.split_once(':') {
            Some((q, b)) => (Some(q), b),
            None => (None, op.as_str()),
        };
        let (negate, matcher): (bool, fn(&str, &str) -> bool) = match base {
            "StringEquals" => (false, |p, v| p == v),
            "StringLike" => (false, glob),
            "StringNotEquals" => (true, |p, v| p == v),
            "StringNotLike" => (true, glob),
            other => return Err(format!("condition operator {other} is not modelled")),
        };
        for (key, wanted) in keys.as_object().into_iter().flatten() {
            let wanted = strings(wanted);
            let values = ctx.get(key).cloned().unwrap_or_default();
            let one = |v: &str| wanted.iter().any(|w| matcher(w, v)) != negate;
            let holds = match qualifier {
                Some("ForAllValues") => values.iter().all(|v| one(v)),
                Some("ForAnyValue") => values.iter().any(|v| one(v)),
                None => !values.is_empty() && values.iter().all(|v| one(v)),
                Some(q) => return Err(format!("condition qualifier {q} is not modelled")),
            };
            if !holds {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn statement_matches(st: &Value, req: &Authz) -> Result<bool, String> {
    let action_ok = strings(&st["Action"])
        .iter()
        .any(|a| glob(&a.to_ascii_lowercase(), &req.action.to_ascii_lowercase()));
    let resource_ok = strings(&st["Resource"])
        .iter()
        .any(|r| glob(r, &req.resource));
    if !(action_ok && resource_ok) {
        return Ok(false);
    }
    conditions_hold(&st["Condition"], &req.context)
}

/// Allowed (with the index of the statement that allowed it), or why not.
pub fn evaluate(statements: &[Value], req: &Authz) -> Result<usize, String> {
    let mut allowed = None;
    for (i, st) in statements.iter().enumerate() {
        if statement_matches(st, req)? {
            if st["Effect"] == "Deny" {
                return Err(format!("explicitly denied by statement {}", sid(st, i)));
            }
            allowed.get_or_insert(i);
        }
    }
    allowed.ok_or_else(|| "no statement of its template policy allows it".into())
}

pub fn sid(st: &Value, i: usize) -> String {
    st["Sid"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("#{i}"))
}

/// What the proxy knows about the resources it forwards to, to name them as IAM does.
#[derive(Default, Clone)]
pub struct Names {
    /// Table name -> (ARN, partition key attribute, index name -> index partition key).
    pub tables: BTreeMap<String, (String, String, BTreeMap<String, String>)>,
    /// Queue URL (and name) -> ARN.
    pub queues: BTreeMap<String, String>,
    /// Secret name or ARN -> ARN.
    pub secrets: BTreeMap<String, String>,
}

fn s_attr(item: &Value, attr: &str) -> Option<String> {
    item.get(attr)?.get("S")?.as_str().map(str::to_string)
}

impl Names {
    fn table(&self, name: &str) -> (String, String, BTreeMap<String, String>) {
        self.tables.get(name).cloned().unwrap_or_else(|| {
            (
                format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"),
                "pk".into(),
                BTreeMap::new(),
            )
        })
    }

    fn item_request(&self, op: &str, body: &Value, key_field: &str) -> Authz {
        let table = scalar(&body["TableName"]);
        let (arn, pk, _) = self.table(&table);
        let mut context = BTreeMap::new();
        if let Some(v) = s_attr(&body[key_field], &pk) {
            context.insert("dynamodb:LeadingKeys".to_string(), vec![v]);
        }
        Authz {
            action: format!("dynamodb:{op}"),
            resource: arn,
            context,
        }
    }

    /// The partition key value of a Query's key condition (`#n0 = :v0` with the names and
    /// values maps).
    fn query(&self, body: &Value) -> Authz {
        let table = scalar(&body["TableName"]);
        let (arn, pk, indexes) = self.table(&table);
        let (resource, key) = match body["IndexName"].as_str() {
            Some(ix) => (
                format!("{arn}/index/{ix}"),
                indexes.get(ix).cloned().unwrap_or_else(|| "gsi1pk".into()),
            ),
            None => (arn, pk),
        };
        let expr = scalar(&body["KeyConditionExpression"]);
        let names = &body["ExpressionAttributeNames"];
        let values = &body["ExpressionAttributeValues"];
        let mut leading = None;
        for clause in expr.split(" AND ").chain(expr.split(" and ")) {
            let Some((l, r)) = clause.split_once('=') else {
                continue;
            };
            let (l, r) = (
                l.trim().trim_start_matches('('),
                r.trim().trim_end_matches(')'),
            );
            let name = names.get(l).map(scalar).unwrap_or_else(|| l.to_string());
            if name == key {
                leading = values.get(r).and_then(|v| v.get("S")).map(scalar);
            }
        }
        let mut context = BTreeMap::new();
        if let Some(v) = leading {
            context.insert("dynamodb:LeadingKeys".to_string(), vec![v]);
        }
        Authz {
            action: "dynamodb:Query".into(),
            resource,
            context,
        }
    }

    fn queue(&self, url: &str) -> String {
        self.queues.get(url).cloned().unwrap_or_else(|| {
            let name = url.rsplit('/').next().unwrap_or(url);
            format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
        })
    }

    /// The IAM requests one AWS call makes (`service` from its SigV4 scope, `target` its
    /// `X-Amz-Target` operation, or for REST APIs the method and path).
    pub fn requests(
        &self,
        service: &str,
        target: Option<&str>,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Vec<Authz>, String> {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let op = target.map(|t| t.rsplit('.').next().unwrap_or(t).to_string());
        match (service, op.as_deref()) {
            ("dynamodb", Some(op @ ("GetItem" | "DeleteItem" | "UpdateItem"))) => {
                Ok(vec![self.item_request(op, &json, "Key")])
            }
            ("dynamodb", Some("PutItem")) => Ok(vec![self.item_request("PutItem", &json, "Item")]),
            ("dynamodb", Some("Query")) => Ok(vec![self.query(&json)]),
            ("dynamodb", Some("TransactWriteItems")) => {
                // Each part is authorized as its own item action ("Using IAM with DynamoDB
                // transactions").
                let mut out = Vec::new();
                for part in json["TransactItems"].as_array().into_iter().flatten() {
                    let (op, p, field) = if let Some(p) = part.get("Put") {
                        ("PutItem", p, "Item")
                    } else if let Some(p) = part.get("Update") {
                        ("UpdateItem", p, "Key")
                    } else if let Some(p) = part.get("Delete") {
                        ("DeleteItem", p, "Key")
                    } else if let Some(p) = part.get("ConditionCheck") {
                        ("ConditionCheckItem", p, "Key")
                    } else {
                        return Err(format!("unknown transaction part {part}"));
                    };
                    out.push(self.item_request(op, p, field));
                }
                Ok(out)
            }
            ("dynamodb", Some(op)) => {
                let (arn, _, _) = self.table(&scalar(&json["TableName"]));
                Ok(vec![Authz {
                    action: format!("dynamodb:{op}"),
                    resource: arn,
                    context: BTreeMap::new(),
                }])
            }
            ("sqs", Some(op)) => {
                // Batch calls need the single call's permission (Amazon SQS Developer Guide,
                // "Amazon SQS API permissions").
                let action = op.strip_suffix("Batch").unwrap_or(op);
                Ok(vec![Authz {
                    action: format!("sqs:{action}"),
                    resource: self.queue(&scalar(&json["QueueUrl"])),
                    context: BTreeMap::new(),
                }])
            }
            ("secretsmanager", Some(op)) => {
                let id = scalar(&json["SecretId"]);
                Ok(vec![Authz {
                    action: format!("secretsmanager:{op}"),
                    resource: self.secrets.get(&id).cloned().unwrap_or(id),
                    context: BTreeMap::new(),
                }])
            }
            ("ses", None) if method == "POST" && path.starts_with("/v2/email/outbound-emails") => {
                let from = scalar(&json["FromEmailAddress"]);
                let address = from
                    .rsplit_once('<')
                    .map(|(_, a)| a.trim_end_matches('>').to_string())
                    .unwrap_or(from);
                Ok(vec![Authz {
                    action: "ses:SendEmail".into(),
                    resource: format!("arn:aws:ses:{REGION}:{ACCOUNT}:identity/{address}"),
                    context: [("ses:FromAddress".to_string(), vec![address])].into(),
                }])
            }
            (service, op) => Err(format!(
                "a {service} call ({}) the harness cannot name for IAM",
                op.unwrap_or(path)
            )),
        }
    }
}

/// What each function's role was used for: (statement, action, resource) and the partition
/// keys seen under each statement.
#[derive(Default)]
pub struct Usage {
    pub grants: BTreeSet<(usize, String, String)>,
    pub leading: BTreeMap<usize, BTreeSet<String>>,
}

impl Usage {
    pub fn record(&mut self, statement: usize, req: &Authz, statements: &[Value]) {
        let st = &statements[statement];
        for action in strings(&st["Action"]) {
            if glob(
                &action.to_ascii_lowercase(),
                &req.action.to_ascii_lowercase(),
            ) {
                for resource in strings(&st["Resource"]) {
                    if glob(&resource, &req.resource) {
                        self.grants.insert((statement, action.clone(), resource));
                    }
                }
            }
        }
        for v in req
            .context
            .get("dynamodb:LeadingKeys")
            .into_iter()
            .flatten()
        {
            self.leading.entry(statement).or_default().insert(v.clone());
        }
    }

    /// Granted (action, resource) pairs and LeadingKeys patterns no request used.
    pub fn unused(&self, statements: &[Value]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, st) in statements.iter().enumerate() {
            if st["Effect"] != "Allow" {
                continue;
            }
            for action in strings(&st["Action"]) {
                for resource in strings(&st["Resource"]) {
                    if !self.grants.contains(&(i, action.clone(), resource.clone())) {
                        out.push(format!("{} {action} on {resource}", sid(st, i)));
                    }
                }
            }
            let patterns: Vec<String> = st["Condition"]
                .as_object()
                .into_iter()
                .flat_map(|ops| ops.values())
                .filter_map(|keys| keys.get("dynamodb:LeadingKeys"))
                .flat_map(strings)
                .collect();
            let seen = self.leading.get(&i).cloned().unwrap_or_default();
            let idle: Vec<&String> = patterns
                .iter()
                .filter(|p| !seen.iter().any(|k| glob(p, k)))
                .collect();
            if !idle.is_empty() {
                out.push(format!(
                    "{} partition keys {}",
                    sid(st, i),
                    idle.iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn globs_and_leading_keys_follow_iam() {
        assert!(glob("user#*", "user#abc"));
        assert!(!glob("user#*", "users#abc"));
        assert!(glob("arn:*:table/t/index/*", "arn:aws:table/t/index/gsi1"));
        assert!(!glob("arn:aws:table/t", "arn:aws:table/t/index/gsi1"));
        let st = vec![json!({
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
            "Resource": "arn:t",
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["user#*", "health"]}}
        })];
        let req = |action: &str, pk: &str| Authz {
            action: action.into(),
            resource: "arn:t".into(),
            context: [("dynamodb:LeadingKeys".to_string(), vec![pk.to_string()])].into(),
        };
        assert_eq!(evaluate(&st, &req("dynamodb:GetItem", "user#1")), Ok(0));
        assert!(evaluate(&st, &req("dynamodb:GetItem", "whevt#stripe")).is_err());
        assert!(evaluate(&st, &req("dynamodb:DeleteItem", "user#1")).is_err());
        let ses = vec![json!({
            "Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*",
            "Condition": {"StringEquals": {"ses:FromAddress": "a@x.io"}}
        })];
        let send = |from: &str| Authz {
            action: "ses:SendEmail".into(),
            resource: "arn:identity".into(),
            context: [("ses:FromAddress".to_string(), vec![from.to_string()])].into(),
        };
        assert!(evaluate(&ses, &send("a@x.io")).is_ok());
        assert!(evaluate(&ses, &send("b@x.io")).is_err());
    }
}
