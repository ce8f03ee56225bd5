//! What the CLI tests share: a tiny HTTP server that records what it receives, and the
//! answers of the provider endpoints `area connect` checks tokens with.
#![allow(dead_code)] // each test binary uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A one-thread HTTP server answering every request with `reply`, recording each request's
/// head and body. Lives until the test process ends.
pub fn serve(reply: String) -> (u16, Arc<Mutex<Vec<String>>>) {
    serve_with(move |_| reply.clone())
}

/// Like [`serve`], the reply computed from the request head.
pub fn serve_with(reply: impl Fn(&str) -> String + Send + 'static) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0usize;
            for _ in 0..100 {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0u8; length.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            head.push_str(&String::from_utf8_lossy(&body));
            let answer = reply(&head);
            record.lock().unwrap().push(head);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (port, seen)
}

/// A `200 OK` with a JSON body.
pub fn json_ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// GitHub's answer to `GET /user` (the token check of `area connect github`) naming `login`,
/// or `None` for any other request. Like GitHub, it wants a bearer token.
pub fn github_user(head: &str, login: &str) -> Option<String> {
    if !head.starts_with("GET /user ") {
        return None;
    }
    if !head.lines().any(|l| l.to_ascii_lowercase().starts_with("authorization: bearer ")) {
        let body = r#"{"message":"Requires authentication"}"#;
        return Some(format!(
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
    }
    Some(json_ok(&format!(r#"{{"login":"{login}","id":1}}"#)))
}
