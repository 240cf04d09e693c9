//! Property tests on the parsers a request or a stored item passes through: none panics on
//! any input, each accepts exactly what it documents, and every mapping round-trips. Case
//! counts are bounded so the test command stays fast; `PROPTEST_CASES=10000 cargo test --test
//! it props` runs a longer search.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, header};
use proptest::prelude::*;
use rampart_http::idempotency::{request_hash, validate_key};
use rampart_store::Value;
use rampart_store::dynamo::{from_av, to_av};

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
        let text = serde_json::to_string(&v).unwrap();
        prop_assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
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
        let got = rampart_http::client_ip::resolve(Some(peer), Some(&xff), &trusted).unwrap();
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
        let _ = rampart_auth::cookies::get(&headers, "__Host-probe");
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; __Host-probe={value}; c=d")).unwrap(),
        );
        let found = rampart_auth::cookies::get(&headers, "__Host-probe");
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
        if let Err(e) = rampart_http::json::parse::<Probe>(&body) {
            let status = e.status().as_u16();
            prop_assert!(status == 400 || status == 422, "status {status}");
        }
    }
}

/// Provider signature schemes: a signature made with the documented algorithm verifies, and
/// never for another body, secret or timestamp; no header, however malformed, panics.
mod signatures {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;
    use rampart_webhooks::providers::{docusign, square, standard, stripe, twilio};

    fn mac256(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    fn mac1(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }

    const NOW: i64 = 1_767_225_600;

    proptest! {
        #![proptest_config(super::config())]

        #[test]
        fn stripe_accepts_its_own_signature_and_nothing_else(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            other in proptest::collection::vec(any::<u8>(), 0..256),
            secret in "whsec_[A-Za-z0-9]{8,40}",
            wrong in "whsec_[A-Za-z0-9]{8,40}",
            skew in -200i64..200,
            junk in ".{0,120}",
        ) {
            let ts = NOW + skew;
            let sign = |key: &str, t: i64, b: &[u8]| {
                let mut signed = format!("{t}.").into_bytes();
                signed.extend_from_slice(b);
                format!("t={t},v1={}", hex::encode(mac256(key.as_bytes(), &signed)))
            };
            let secrets = vec![secret.clone()];
            let header = sign(&secret, ts, &body);
            prop_assert_eq!(stripe::verify_signature(Some(&header), &body, &secrets, NOW), Ok(ts));
            if other != body {
                prop_assert!(stripe::verify_signature(Some(&header), &other, &secrets, NOW).is_err());
            }
            if wrong != secret {
                prop_assert!(stripe::verify_signature(Some(&sign(&wrong, ts, &body)), &body, &secrets, NOW).is_err());
            }
            // The same MAC under another claimed time is refused.
            let moved = header.replacen(&format!("t={ts}"), &format!("t={}", ts + 1), 1);
            prop_assert!(stripe::verify_signature(Some(&moved), &body, &secrets, NOW).is_err());
            let _ = stripe::verify_signature(Some(&junk), &body, &secrets, NOW);
        }

        #[test]
        fn square_signs_the_url_and_the_body(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            other in proptest::collection::vec(any::<u8>(), 0..256),
            key in "[A-Za-z0-9_-]{8,40}",
            path in "[a-z/]{0,20}",
            junk in ".{0,80}",
        ) {
            let url = format!("https://hooks.example.com/{path}");
            let mut signed = url.as_bytes().to_vec();
            signed.extend_from_slice(&body);
            let header = STANDARD.encode(mac256(key.as_bytes(), &signed));
            let keys = vec![key.clone()];
            prop_assert!(square::verify_signature(Some(&header), &url, &body, &keys).is_ok());
            if other != body {
                prop_assert!(square::verify_signature(Some(&header), &url, &other, &keys).is_err());
            }
            let elsewhere = format!("{url}x");
            prop_assert!(square::verify_signature(Some(&header), &elsewhere, &body, &keys).is_err());
            let _ = square::verify_signature(Some(&junk), &url, &body, &keys);
        }

        #[test]
        fn docusign_accepts_any_listed_signature_of_the_body(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            other in proptest::collection::vec(any::<u8>(), 0..256),
            key in "[A-Za-z0-9+/=]{8,44}",
            junk in proptest::collection::vec(".{0,60}", 0..3),
        ) {
            let good = STANDARD.encode(mac256(key.as_bytes(), &body));
            let keys = vec![key.clone()];
            let mut headers: Vec<&str> = junk.iter().map(String::as_str).collect();
            headers.push(&good);
            prop_assert!(docusign::verify_signature(&headers, &body, &keys).is_ok());
            if other != body {
                prop_assert!(docusign::verify_signature(&headers, &other, &keys).is_err());
            }
            let junk_only: Vec<&str> = junk.iter().map(String::as_str).collect();
            let _ = docusign::verify_signature(&junk_only, &body, &keys);
        }

        #[test]
        fn standard_webhooks_bind_id_time_and_body(
            body in proptest::collection::vec(any::<u8>(), 0..256),
            other in proptest::collection::vec(any::<u8>(), 0..256),
            raw_key in proptest::collection::vec(any::<u8>(), 24..48),
            id in "msg_[A-Za-z0-9]{4,20}",
            skew in -200i64..200,
            junk in ".{0,120}",
        ) {
            let ts = NOW + skew;
            let secret = format!("whsec_{}", STANDARD.encode(&raw_key));
            let sign = |msg_id: &str, t: i64, b: &[u8]| {
                let mut signed = format!("{msg_id}.{t}.").into_bytes();
                signed.extend_from_slice(b);
                format!("v1,{}", STANDARD.encode(mac256(&raw_key, &signed)))
            };
            let secrets = vec![secret];
            let sig = sign(&id, ts, &body);
            let t = ts.to_string();
            prop_assert_eq!(
                standard::verify_signature(Some(&id), Some(&t), Some(&sig), &body, &secrets, NOW),
                Ok(ts)
            );
            if other != body {
                prop_assert!(standard::verify_signature(Some(&id), Some(&t), Some(&sig), &other, &secrets, NOW).is_err());
            }
            let other_id = format!("{id}x");
            prop_assert!(standard::verify_signature(Some(&other_id), Some(&t), Some(&sig), &body, &secrets, NOW).is_err());
            let later = (ts + 1).to_string();
            prop_assert!(standard::verify_signature(Some(&id), Some(&later), Some(&sig), &body, &secrets, NOW).is_err());
            let _ = standard::verify_signature(Some(&id), Some(&junk), Some(&junk), &body, &secrets, NOW);
        }

        #[test]
        fn twilio_signs_the_url_and_sorted_parameters(
            params in proptest::collection::vec(("[A-Za-z]{1,10}", "[ -~]{0,20}"), 0..6),
            token in "[a-f0-9]{32}",
            extra in "[ -~]{1,10}",
        ) {
            let url = "https://hooks.example.com/webhooks/twilio/status";
            let params: Vec<(String, String)> = params;
            let mut sorted = params.clone();
            sorted.sort();
            let mut signed = url.to_string();
            for (k, v) in &sorted {
                signed.push_str(k);
                signed.push_str(v);
            }
            let header = STANDARD.encode(mac1(token.as_bytes(), signed.as_bytes()));
            let tokens = vec![token];
            prop_assert!(twilio::verify_form(Some(&header), url, &params, &tokens).is_ok());
            let mut tampered = params.clone();
            tampered.push(("Injected".into(), extra));
            prop_assert!(twilio::verify_form(Some(&header), url, &tampered, &tokens).is_err());
        }

        #[test]
        fn twilio_parameters_read_back_from_form_and_json_bodies(
            params in proptest::collection::btree_map("[A-Za-z]{1,10}", "[ -~]{0,20}", 0..6),
            noise in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let form = serde_urlencoded::to_string(params.iter().collect::<Vec<_>>()).unwrap();
            let mut from_form = twilio::params(form.as_bytes());
            from_form.sort();
            let want: Vec<(String, String)> = params.clone().into_iter().collect();
            prop_assert_eq!(&from_form, &want);
            let json = serde_json::to_vec(&params).unwrap();
            let mut from_json = twilio::params(&json);
            from_json.sort();
            prop_assert_eq!(&from_json, &want);
            let _ = twilio::params(&noise);
        }
    }
}
