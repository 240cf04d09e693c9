//! Property tests on the parsers a request or a stored item passes through: none panics on
//! any input, each accepts exactly what it documents, and every mapping round-trips. Case
//! counts are bounded so the test command stays fast; `PROPTEST_CASES=10000 cargo test --test
//! it props` runs a longer search.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, header};
use proptest::prelude::*;
use rampart::idempotency::{request_hash, validate_key};
use rampart::store::Value;
use rampart::store::dynamo::{from_av, to_av};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::S),
        any::<i64>().prop_map(Value::N),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Value::B),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::L),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..6).prop_map(Value::M),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn idempotency_keys_are_accepted_exactly_when_visible_ascii_up_to_255(key in ".{0,300}") {
        let ok = !key.is_empty()
            && key.len() <= 255
            && key.bytes().all(|b| (0x21..=0x7e).contains(&b));
        prop_assert_eq!(validate_key(&key).is_ok(), ok);
    }

    #[test]
    fn the_request_hash_ignores_json_layout_but_not_content(
        m in proptest::collection::btree_map("[a-z]{1,8}", any::<i64>(), 0..8),
        other in any::<i64>(),
    ) {
        let compact = serde_json::to_vec(&m).unwrap();
        let pretty = serde_json::to_vec_pretty(&m).unwrap();
        prop_assert_eq!(
            request_hash("POST", "/orders", &compact),
            request_hash("POST", "/orders", &pretty)
        );
        let mut changed = m.clone();
        let k = "zzzzzzzzz".to_string();
        changed.insert(k, other);
        let changed = serde_json::to_vec(&changed).unwrap();
        prop_assert_ne!(
            request_hash("POST", "/orders", &compact),
            request_hash("POST", "/orders", &changed)
        );
    }

    #[test]
    fn store_values_round_trip_through_dynamodb_attribute_values(v in value()) {
        prop_assert_eq!(from_av(&to_av(&v)).unwrap(), v);
    }

    #[test]
    fn store_values_round_trip_through_the_embedded_json_form(v in value()) {
        prop_assert_eq!(Value::from_tagged_json(&v.to_tagged_json()), Some(v));
    }

    #[test]
    fn the_client_ip_is_the_peer_or_a_hop_from_the_header(
        hops in proptest::collection::vec(prop_oneof![
            any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
            any::<std::net::Ipv6Addr>().prop_map(|a| a.to_string()),
            "10\\.0\\.0\\.[0-9]{1,3}",
            "[0-9a-z:.\\[\\] ]{0,20}",
        ], 0..6),
        peer_octet in 1u8..=254,
        trusted_peer in any::<bool>(),
    ) {
        let xff = hops.join(", ");
        let peer: IpAddr = format!("10.0.0.{peer_octet}").parse().unwrap();
        let trusted: Vec<ipnet::IpNet> = if trusted_peer {
            vec!["10.0.0.0/8".parse().unwrap()]
        } else {
            Vec::new()
        };
        let got = rampart::http::client_ip::resolve(Some(peer), Some(&xff), &trusted).unwrap();
        if trusted_peer {
            let in_header = xff.split(',').map(str::trim).any(|h| {
                h.parse::<IpAddr>().ok().map(|i| i.to_canonical()) == Some(got)
                    || h.parse::<std::net::SocketAddr>().ok().map(|s| s.ip().to_canonical()) == Some(got)
            });
            prop_assert!(got == peer || in_header, "{got} is neither the peer nor in {xff:?}");
        } else {
            prop_assert_eq!(got, peer, "an untrusted peer's header is never believed");
        }
    }

    #[test]
    fn cookie_parsing_never_panics_and_finds_what_was_sent(
        noise in "[ -~]{0,120}",
        value in "[A-Za-z0-9_-]{1,40}",
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&noise) {
            headers.append(header::COOKIE, v);
        }
        let _ = rampart::auth::cookies::get(&headers, "__Host-probe");
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; __Host-probe={value}; c=d")).unwrap(),
        );
        let found = rampart::auth::cookies::get(&headers, "__Host-probe");
        // The noise may itself carry the name first; either way a value comes back.
        prop_assert!(found.is_some());
        if !noise.contains("__Host-probe=") {
            prop_assert_eq!(found.unwrap(), value);
        }
    }

    #[test]
    fn the_json_extractor_answers_400_or_422_and_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Probe { email: String, quantity: u8 }
        if let Err(e) = rampart::http::json::parse::<Probe>(&body) {
            let status = e.status().as_u16();
            prop_assert!(status == 400 || status == 422, "status {status}");
        }
    }
}
