//! Kannel's `/cgi-bin/sendsms` and Jasmin's `/send`, with requests as their docs show
//! them, answered with their exact texts.

mod common;

use common::{TestServer, reply};
use tern_http::{CallbackMethod, CallbackStyle, Refusal};

#[test]
fn kannel_get_from_the_user_guide_is_accepted_in_kannels_words() {
    let server = TestServer::start();
    let r = reply(
        ureq::get(&server.url(
            "/cgi-bin/sendsms?username=alice&password=secret&from=123&to=0123456&text=Hello+world",
        ))
        .call(),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (202, "0: Accepted for delivery")
    );
    let m = &server.submits()[0].messages[0];
    assert_eq!(m.to.digits, "0123456");
    assert_eq!(m.encoded.parts, vec![b"Hello world".to_vec()]);
}

#[test]
fn kannel_post_with_text_body_and_x_kannel_headers() {
    let server = TestServer::start();
    let r = reply(
        ureq::post(&server.url("/cgi-bin/sendsms"))
            .set("X-Kannel-Username", "alice")
            .set("X-Kannel-Password", "secret")
            .set("X-Kannel-From", "Tern")
            .set("X-Kannel-To", "0123456 0654321")
            .set("X-Kannel-DLR-Mask", "3")
            .set("X-Kannel-DLR-Url", "http://127.0.0.1/dlr?type=%d&id=%I")
            .set("Content-Type", "text/plain; charset=UTF-8")
            .send_string("Grüße"),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (202, "0: Accepted for delivery")
    );
    let subs = &server.submits()[0].messages;
    assert_eq!(subs.len(), 2);
    let cb = subs[0].callback.clone().expect("dlr-url kept");
    assert_eq!(
        (cb.method, cb.style),
        (CallbackMethod::Get, CallbackStyle::Kannel { mask: 3 })
    );
    assert_eq!(cb.url, "http://127.0.0.1/dlr?type=%d&id=%I");
}

#[test]
fn kannel_post_form_with_coding_validity_and_deferred() {
    let server = TestServer::start();
    let r = reply(ureq::post(&server.url("/cgi-bin/sendsms")).send_form(&[
        ("user", "alice"),
        ("pass", "secret"),
        ("from", "123"),
        ("to", "456"),
        ("text", "hi"),
        ("coding", "2"),
        ("validity", "10"),
        ("deferred", "5"),
        ("mclass", "1"),
    ]));
    assert_eq!(r.status, 202);
    let m = &server.submits()[0].messages[0];
    assert_eq!(m.encoded.data_coding, 0x19);
    assert_eq!(m.encoded.parts, vec![vec![0, b'h', 0, b'i']]);
    assert_eq!(m.validity_s, Some(600));
    assert!(m.schedule_at_ms.is_some());
}

#[test]
fn kannel_refusals_use_smsbox_texts_and_codes() {
    let server = TestServer::start();
    let get = |q: &str| reply(ureq::get(&server.url(&format!("/cgi-bin/sendsms?{q}"))).call());
    let r = get("username=alice&password=wrong&to=1&text=x&from=1");
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "Authorization failed for sendsms")
    );
    let r = get("to=1&text=x");
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "Authorization failed for sendsms")
    );
    let r = get("username=alice&password=secret&text=x&from=1");
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Missing receiver number, rejected")
    );
    let r = get("username=alice&password=secret&to=1&text=x&from=1&dlr-mask=99");
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "DLR-Mask field misformed, rejected")
    );
    let r = get("username=alice&password=secret&to=1&text=x&from=1&udh=%05%00");
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "UDH field misformed, rejected")
    );
    server.refuse_with(Some(Refusal::Overloaded { retry_after_s: 2 }));
    let r = get("username=alice&password=secret&to=1&text=x&from=1");
    assert_eq!(
        (r.status, r.body.as_str(), r.retry_after.as_deref()),
        (503, "Temporal failure, try again later.", Some("2"))
    );
}

#[test]
fn jasmin_get_from_its_docs_answers_success_with_the_id() {
    let server = TestServer::start();
    let r = reply(
        ureq::get(&server.url("/send?username=alice&password=secret&to=06222172&content=hello"))
            .call(),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "Success \"m1\""));
    assert_eq!(
        server.submits()[0].messages[0].encoded.parts,
        vec![b"hello".to_vec()]
    );
}

#[test]
fn jasmin_post_form_and_json_with_dlr() {
    let server = TestServer::start();
    let r = reply(ureq::post(&server.url("/send")).send_form(&[
        ("username", "alice"),
        ("password", "secret"),
        ("to", "+306900000000"),
        ("from", "Jasmin"),
        ("hex-content", "0623064406270645"),
        ("coding", "8"),
        ("dlr", "yes"),
        ("dlr-url", "http://127.0.0.1/dlr"),
        ("dlr-level", "3"),
        ("dlr-method", "GET"),
    ]));
    assert_eq!((r.status, r.body.as_str()), (200, "Success \"m1\""));
    let m = &server.submits()[0].messages[0];
    assert_eq!((m.encoded.data_coding, m.encoded.parts[0].len()), (8, 8));
    let cb = m.callback.clone().expect("dlr");
    assert_eq!(
        (cb.method, cb.style),
        (CallbackMethod::Get, CallbackStyle::Jasmin { level: 3 })
    );
    let r = reply(
        ureq::post(&server.url("/send"))
            .set("Content-Type", "application/json")
            .send_string(
                r#"{"username":"alice","password":"secret","to":"1234","content":"hi","coding":0}"#,
            ),
    );
    assert_eq!((r.status, r.body.as_str()), (200, "Success \"m2\""));
}

#[test]
fn jasmin_refusals_use_its_texts_and_codes() {
    let server = TestServer::start();
    let get = |q: &str| reply(ureq::get(&server.url(&format!("/send?{q}"))).call());
    let r = get("username=alice&password=nope&to=1&content=x");
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "Error \"Authentication failure for username:alice\"")
    );
    let r = get("username=alice&password=secret&to=1&content=x&bogus=1");
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Error \"Argument [bogus] is unknown.\"")
    );
    let r = get("username=alice&password=secret&to=1&content=x&hex-content=00");
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Error \"content and hex-content cannot be used both in same request.\""
        )
    );
    let r = get("username=alice&password=secret&to=1&content=x&coding=11");
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Error \"Argument [coding] has an invalid value: [11].\""
        )
    );
    server.refuse_with(Some(Refusal::NoRoute("1".into())));
    let r = get("username=alice&password=secret&to=1&content=x");
    assert_eq!(
        (r.status, r.body.as_str()),
        (412, "Error \"No route found\"")
    );
    server.refuse_with(Some(Refusal::Throttled { retry_after_s: 4 }));
    let r = get("username=alice&password=secret&to=1&content=x");
    assert_eq!(
        (r.status, r.body.as_str(), r.retry_after.as_deref()),
        (403, "Error \"User throughput exceeded\"", Some("4"))
    );
    server.refuse_with(Some(Refusal::Overloaded { retry_after_s: 4 }));
    let r = get("username=alice&password=secret&to=1&content=x");
    assert_eq!((r.status, r.retry_after.as_deref()), (503, Some("4")));
}
