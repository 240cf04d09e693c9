//! What template.yaml must keep saying that no flow can show on loopback: the operational
//! settings of a first deploy, each with the AWS behaviour it relies on.

use serde_json::Value;

use super::template::{self, Template, scalar};

fn template_or_skip() -> Option<Template> {
    if !template::venv_python().exists() {
        if std::env::var("RAMPART_REQUIRE_AWS").is_ok_and(|v| v == "1") {
            panic!("the test peers (.tools/venv) are not installed: run scripts/test");
        }
        eprintln!("skipped: the test peers are not installed (scripts/test installs them)");
        return None;
    }
    Some(template::load().unwrap_or_else(|e| panic!("{e}")))
}

fn function<'a>(t: &'a Template, binary: &str) -> (&'a String, &'a Value) {
    t.of_type("AWS::Serverless::Function")
        .find(|(_, f)| f["Metadata"]["BuildProperties"]["Binary"] == binary)
        .unwrap_or_else(|| panic!("no function builds {binary}"))
}

#[test]
fn every_alarm_notifies_the_alarm_topic() {
    let Some(t) = template_or_skip() else { return };
    let mut silent = Vec::new();
    for (id, alarm) in t.of_type("AWS::CloudWatch::Alarm") {
        let actions = alarm["Properties"]["AlarmActions"].to_string();
        if !actions.contains("AlarmTopicArn") {
            silent.push(id.clone());
        }
    }
    assert!(silent.is_empty(), "alarms that notify nobody: {silent:?}");
    assert!(
        t.json["Parameters"]["AlarmTopicArn"]
            .get("Default")
            .is_none(),
        "the topic is a required parameter"
    );
}

#[test]
fn the_table_cannot_be_deleted_by_accident() {
    let Some(t) = template_or_skip() else { return };
    for (id, table) in t.of_type("AWS::DynamoDB::Table") {
        assert_eq!(table["DeletionPolicy"], "Retain", "{id}");
        assert_eq!(
            table["Properties"]["DeletionProtectionEnabled"], true,
            "{id}: deletion protection"
        );
    }
}

#[test]
fn cron_runs_never_overlap_and_failures_are_kept() {
    let Some(t) = template_or_skip() else { return };
    let (id, cron) = function(&t, "cleanup-cron");
    let p = &cron["Properties"];
    assert_eq!(
        p["ReservedConcurrentExecutions"], 1,
        "{id}: one run at a time"
    );
    let dest = &p["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
    assert!(
        dest["Destination"].is_object() || dest["Destination"].is_string(),
        "{id}: failed runs need an on-failure destination"
    );
}

#[test]
fn the_queue_outlasts_the_worker_and_the_receive_count_has_one_source() {
    let Some(t) = template_or_skip() else { return };
    let (worker_id, worker) = function(&t, "jobs-worker");
    let timeout = worker["Properties"]["Timeout"]
        .as_u64()
        .or_else(|| t.json["Globals"]["Function"]["Timeout"].as_u64())
        .expect("timeout");
    let (_, mapping) = t
        .of_type("AWS::Lambda::EventSourceMapping")
        .find(|(_, m)| m["Properties"]["FunctionName"]["Ref"] == worker_id.as_str())
        .expect("the worker's event source mapping");
    let queue_id = scalar(&mapping["Properties"]["EventSourceArn"]["Fn::GetAtt"][0]);
    let queue = &t.json["Resources"][&queue_id]["Properties"];
    // AWS Lambda Developer Guide, "Using Lambda with Amazon SQS": set the queue's visibility
    // timeout to at least six times the function's timeout.
    let visibility = queue["VisibilityTimeout"].as_u64().expect("visibility");
    assert!(
        visibility >= 6 * timeout,
        "{queue_id} visibility {visibility} s < 6 x {timeout} s"
    );
    let redrive = &queue["RedrivePolicy"]["maxReceiveCount"];
    let worker_env = &worker["Properties"]["Environment"]["Variables"]["QUEUE_MAX_RECEIVES"];
    assert!(
        redrive.get("Ref").is_some() && redrive == worker_env,
        "the queue's maxReceiveCount ({redrive}) and the worker's QUEUE_MAX_RECEIVES ({worker_env}) must be one parameter"
    );
}

#[test]
fn every_required_parameter_has_a_pattern() {
    let Some(t) = template_or_skip() else { return };
    for (name, spec) in t.json["Parameters"].as_object().expect("parameters") {
        if spec.get("Default").is_none() {
            assert!(
                spec.get("AllowedPattern").is_some() || spec.get("AllowedValues").is_some(),
                "{name}: required, so CloudFormation must check it before the functions do"
            );
        }
    }
}
