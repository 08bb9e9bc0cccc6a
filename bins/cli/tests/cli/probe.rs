//! `junction probe`, the image's health check: a 2xx answer succeeds, anything
//! else (an unready service, nobody listening) fails with one line.

use std::{
    io::{Read, Write},
    net::TcpListener,
    thread,
};

use super::{assert_one_line_error, junction, stdout};

/// Serves one HTTP request with `status` and `body` on a free loopback port;
/// returns the URL it listens on.
fn answer_once(status: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/readyz", listener.local_addr().unwrap());
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0_u8; 1024];
        let _ = stream.read(&mut request).unwrap();
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).unwrap();
    });
    url
}

#[test]
fn a_ready_service_passes_the_probe() {
    let url = answer_once("200 OK", r#"{"postgres":{"ok":true},"redis":{"ok":true}}"#);
    let output = junction(&["probe", &url], &[]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "ok: 200");
}

#[test]
fn an_unready_service_fails_the_probe_saying_what_it_answered() {
    let url = answer_once(
        "503 Service Unavailable",
        r#"{"postgres":{"ok":true},"redis":{"ok":false}}"#,
    );
    let output = junction(&["probe", &url], &[]);
    assert_one_line_error(&output, 1, "answered 503");
    assert_one_line_error(&output, 1, r#""redis":{"ok":false}"#);
}

#[test]
fn nobody_listening_fails_the_probe() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let output = junction(&["probe", &url, "--timeout", "2"], &[]);
    assert_one_line_error(&output, 1, "did not answer");
}

#[test]
fn a_probe_url_with_credentials_is_refused_without_echoing_them() {
    let output = junction(&["probe", "http://ops:hunter2@127.0.0.1:1/readyz"], &[]);
    assert_one_line_error(&output, 2, "without credentials");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hunter2"));
}
