//! The shared HTTP client against local fake servers: wiremock for well-behaved upstreams, raw
//! TCP listeners for hostile ones (stalled, trickling, endless bodies).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use area_core::connector::{classify_status, ErrorClass, HttpRequestSpec};
use area_core::net::{retry_after, HttpClient, NetConfig, NetError, RequestOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Private targets allowed: most tests talk to a fake server on loopback.
fn open_client() -> HttpClient {
    HttpClient::new(NetConfig { allow_private_network: true, ..NetConfig::default() }).unwrap()
}

/// The default, guarded client.
fn guarded_client() -> HttpClient {
    HttpClient::new(NetConfig::default()).unwrap()
}

fn opts() -> RequestOptions {
    RequestOptions::default()
}

async fn mount(server: &MockServer, m: &str, p: &str, template: ResponseTemplate) {
    Mock::given(method(m)).and(path(p)).respond_with(template).mount(server).await;
}

async fn request_count(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn assert_refused(result: Result<area_core::connector::HttpResponseData, NetError>, what: &str) {
    match result {
        Err(err @ NetError::Refused { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains("allow_private_network"), "{what}: {msg}");
            assert!(msg.contains("AREA_ALLOW_PRIVATE_NETWORK=1"), "{what}: {msg}");
            assert!(!msg.contains("SECRET"), "{what}: message leaks the query: {msg}");
            assert_eq!(err.class(), ErrorClass::Permanent);
        }
        other => panic!("{what}: expected Refused, got {other:?}"),
    }
}

/// A raw TCP server running `handler` for each connection.
async fn raw_server<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handler(stream));
        }
    });
    addr
}

/// Reads until the end of the request head (enough for our GETs without a body).
async fn read_head(stream: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses as data

#[tokio::test]
async fn returns_body_status_and_lowercased_headers() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/hello",
        ResponseTemplate::new(200).insert_header("X-Custom-Thing", "Mixed Case Value").set_body_string("hello, world"),
    )
    .await;
    let req = HttpRequestSpec {
        method: "POST".into(),
        url: format!("{}/hello?q=1", server.uri()),
        headers: vec![("X-Trace".into(), "abc".into())],
        body: Some(b"payload".to_vec()),
    };
    let resp = open_client().send(&req, &opts()).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello, world");
    assert!(resp.headers.contains(&("x-custom-thing".into(), "Mixed Case Value".into())), "{:?}", resp.headers);
    assert!(resp.headers.iter().all(|(k, _)| *k == k.to_ascii_lowercase()));

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, b"payload");
    assert_eq!(received[0].headers["x-trace"], "abc");
    let ua = received[0].headers["user-agent"].to_str().unwrap();
    assert!(ua.starts_with("Area/") && ua.contains("(+https://github.com/area)"), "{ua}");
}

#[tokio::test]
async fn request_user_agent_overrides_the_default() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/", ResponseTemplate::new(204)).await;
    let mut req = HttpRequestSpec::get(server.uri());
    req.headers.push(("User-Agent".into(), "custom/1".into()));
    let resp = open_client().send(&req, &opts()).await.unwrap();
    assert_eq!(resp.status, 204);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received[0].headers["user-agent"], "custom/1");
}

#[tokio::test]
async fn error_statuses_are_returned_as_data() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/missing", ResponseTemplate::new(404).set_body_string("{\"message\":\"Not Found\"}")).await;
    mount(&server, "GET", "/boom", ResponseTemplate::new(500).set_body_string("oops")).await;
    mount(&server, "GET", "/slow-down", ResponseTemplate::new(429).insert_header("Retry-After", "7")).await;
    let client = open_client();

    let r404 = client.send(&HttpRequestSpec::get(format!("{}/missing", server.uri())), &opts()).await.unwrap();
    assert_eq!(r404.status, 404);
    assert_eq!(r404.body, b"{\"message\":\"Not Found\"}");
    assert_eq!(classify_status(r404.status, None), ErrorClass::Permanent);

    let r500 = client.send(&HttpRequestSpec::get(format!("{}/boom", server.uri())), &opts()).await.unwrap();
    assert_eq!(r500.status, 500);
    assert_eq!(r500.body, b"oops");

    let r429 = client.send(&HttpRequestSpec::get(format!("{}/slow-down", server.uri())), &opts()).await.unwrap();
    assert_eq!(r429.status, 429);
    let wait = retry_after(&r429, SystemTime::now());
    assert_eq!(wait, Some(Duration::from_secs(7)));
    assert_eq!(classify_status(r429.status, wait), ErrorClass::Retryable { retry_after: Some(Duration::from_secs(7)) });
}

#[tokio::test]
async fn retry_after_http_date_from_a_live_response() {
    let server = MockServer::start().await;
    let now = SystemTime::now();
    let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
    mount(&server, "GET", "/", ResponseTemplate::new(503).insert_header("Retry-After", later.as_str())).await;
    let resp = open_client().send(&HttpRequestSpec::get(server.uri()), &opts()).await.unwrap();
    let wait = retry_after(&resp, now).unwrap();
    // HTTP-dates have one-second resolution.
    assert!(wait > Duration::from_secs(88) && wait <= Duration::from_secs(90), "{wait:?}");
}

// ---------------------------------------------------------------------------------------------
// Size caps

#[tokio::test]
async fn body_at_the_cap_is_returned_and_one_byte_more_is_refused() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/fits", ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1000])).await;
    mount(&server, "GET", "/over", ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1001])).await;
    let client = open_client();
    let capped = RequestOptions { max_body_bytes: Some(1000), ..opts() };
    let fits = client.send(&HttpRequestSpec::get(format!("{}/fits", server.uri())), &capped).await.unwrap();
    assert_eq!(fits.body.len(), 1000);
    let over = client.send(&HttpRequestSpec::get(format!("{}/over", server.uri())), &capped).await;
    assert_eq!(over, Err(NetError::BodyTooLarge { limit: 1000 }));
}

#[tokio::test]
async fn ten_megabyte_body_exceeds_the_default_cap() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/big", ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 10 * 1024 * 1024])).await;
    let err = open_client().send(&HttpRequestSpec::get(format!("{}/big", server.uri())), &opts()).await.unwrap_err();
    assert_eq!(err, NetError::BodyTooLarge { limit: 4 * 1024 * 1024 });
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(err.to_string().contains("4194304"), "{err}");
}

#[tokio::test]
async fn endless_chunked_body_is_cut_off_quickly() {
    let addr = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let mut chunk = b"10000\r\n".to_vec();
        chunk.extend(std::iter::repeat_n(b'z', 0x10000));
        chunk.extend_from_slice(b"\r\n");
        while stream.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let client = HttpClient::new(NetConfig {
        allow_private_network: true,
        max_body_bytes: 1024 * 1024,
        total_timeout: Duration::from_secs(20),
        ..NetConfig::default()
    })
    .unwrap();
    let started = Instant::now();
    let err = client.send(&HttpRequestSpec::get(format!("http://{addr}/stream")), &opts()).await.unwrap_err();
    assert_eq!(err, NetError::BodyTooLarge { limit: 1024 * 1024 });
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

/// A valid gzip member holding `n` zero bytes, compressed with fixed-Huffman back-references
/// (about 160:1), so the test can send a decompression bomb without a compression crate.
fn gzip_zeros(n: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        len: u32,
    }
    impl Bits {
        /// `len` bits of `value`, least significant first (deflate's order for headers/extra bits).
        fn lsb(&mut self, value: u32, len: u32) {
            for i in 0..len {
                self.push((value >> i) & 1);
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u32, len: u32) {
            for i in (0..len).rev() {
                self.push((code >> i) & 1);
            }
        }
        fn push(&mut self, bit: u32) {
            self.acc |= bit << self.len;
            self.len += 1;
            if self.len == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.len = 0;
            }
        }
        fn finish(mut self) -> Vec<u8> {
            if self.len > 0 {
                self.out.push(self.acc as u8);
            }
            self.out
        }
    }
    let mut bits = Bits { out: Vec::new(), acc: 0, len: 0 };
    bits.lsb(1, 1); // BFINAL
    bits.lsb(1, 2); // BTYPE = fixed Huffman
    let literal_zero = |b: &mut Bits| b.code(0x30, 8);
    if n > 0 {
        literal_zero(&mut bits);
        let rest = n - 1;
        for _ in 0..rest / 258 {
            bits.code(0xC5, 8); // length symbol 285 = 258 bytes, no extra bits
            bits.code(0, 5); // distance code 0 = distance 1
        }
        for _ in 0..rest % 258 {
            literal_zero(&mut bits);
        }
    }
    bits.code(0, 7); // end of block (symbol 256)

    let mut crc_table = [0u32; 256];
    for (i, entry) in crc_table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *entry = c;
    }
    let mut crc = 0xFFFF_FFFFu32;
    for _ in 0..n {
        crc = crc_table[(crc & 0xFF) as usize] ^ (crc >> 8);
    }
    crc ^= 0xFFFF_FFFF;

    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(bits.finish());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out
}

#[tokio::test]
async fn gzip_bodies_are_decoded() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/small.gz",
        ResponseTemplate::new(200).insert_header("content-encoding", "gzip").set_body_bytes(gzip_zeros(100_000)),
    )
    .await;
    let resp = open_client().send(&HttpRequestSpec::get(format!("{}/small.gz", server.uri())), &opts()).await.unwrap();
    assert_eq!(resp.body.len(), 100_000);
    assert!(resp.body.iter().all(|b| *b == 0));
    let received = server.received_requests().await.unwrap();
    let accept = received[0].headers["accept-encoding"].to_str().unwrap();
    assert!(accept.contains("gzip"), "{accept}");
}

#[tokio::test]
async fn gzip_bomb_is_capped_on_decoded_bytes() {
    let limit = 1024 * 1024;
    let bomb = gzip_zeros(10 * 1024 * 1024);
    assert!(bomb.len() < limit / 8, "the bomb itself must fit the cap: {}", bomb.len());
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/bomb.gz",
        ResponseTemplate::new(200).insert_header("content-encoding", "gzip").set_body_bytes(bomb),
    )
    .await;
    let capped = RequestOptions { max_body_bytes: Some(limit), ..opts() };
    let result = open_client().send(&HttpRequestSpec::get(format!("{}/bomb.gz", server.uri())), &capped).await;
    assert_eq!(result, Err(NetError::BodyTooLarge { limit }));
}

// ---------------------------------------------------------------------------------------------
// Timeouts and network failures

fn short_timeout_client() -> HttpClient {
    HttpClient::new(NetConfig {
        allow_private_network: true,
        connect_timeout: Duration::from_secs(1),
        total_timeout: Duration::from_secs(1),
        ..NetConfig::default()
    })
    .unwrap()
}

fn assert_timed_out_around(
    result: Result<area_core::connector::HttpResponseData, NetError>,
    started: Instant,
    limit: Duration,
) {
    let elapsed = started.elapsed();
    assert_eq!(result, Err(NetError::Timeout { after: limit }));
    assert!(
        elapsed >= limit.mul_f32(0.9) && elapsed < limit + Duration::from_secs(2),
        "took {elapsed:?} for a {limit:?} limit"
    );
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let addr = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(stream);
    })
    .await;
    let started = Instant::now();
    let result = short_timeout_client().send(&HttpRequestSpec::get(format!("http://{addr}/")), &opts()).await;
    assert_timed_out_around(result, started, Duration::from_secs(1));
    let err = NetError::Timeout { after: Duration::from_secs(1) };
    assert_eq!(err.class(), ErrorClass::Retryable { retry_after: None });
}

#[tokio::test]
async fn trickling_body_times_out() {
    let addr = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for _ in 0..600 {
            if stream.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let started = Instant::now();
    let result = short_timeout_client().send(&HttpRequestSpec::get(format!("http://{addr}/")), &opts()).await;
    assert_timed_out_around(result, started, Duration::from_secs(1));
}

#[tokio::test]
async fn per_request_timeout_overrides_the_config() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/", ResponseTemplate::new(200).set_delay(Duration::from_secs(10))).await;
    let started = Instant::now();
    let result = open_client()
        .send(
            &HttpRequestSpec::get(server.uri()),
            &RequestOptions { timeout: Some(Duration::from_millis(500)), ..opts() },
        )
        .await;
    assert_timed_out_around(result, started, Duration::from_millis(500));
}

#[tokio::test]
async fn connection_refused_is_a_retryable_connect_error_without_secrets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/hooks/SECRET-PATH?token=SECRET");
    let err = open_client().send(&HttpRequestSpec::get(url), &opts()).await.unwrap_err();
    assert!(matches!(err, NetError::Connect(_)), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Retryable { retry_after: None });
    let msg = err.to_string();
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(!msg.contains("SECRET"), "{msg}");
}

#[tokio::test]
async fn unresolvable_host_is_a_connect_error() {
    let err = open_client().send(&HttpRequestSpec::get("http://does-not-exist.invalid/"), &opts()).await.unwrap_err();
    assert!(matches!(err, NetError::Connect(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Invalid requests

#[tokio::test]
async fn unusable_urls_and_requests_are_permanent_errors() {
    let client = open_client();
    for url in ["not a url", "ftp://example.com/file", "file:///etc/passwd", "/relative/only"] {
        let err = client.send(&HttpRequestSpec::get(url), &opts()).await.unwrap_err();
        assert!(matches!(err, NetError::InvalidUrl(_)), "{url}: {err:?}");
        assert_eq!(err.class(), ErrorClass::Permanent);
    }
    let bad_method = HttpRequestSpec { method: "GE T".into(), ..HttpRequestSpec::get("http://127.0.0.1:9/") };
    let err = client.send(&bad_method, &opts()).await.unwrap_err();
    assert!(matches!(err, NetError::InvalidRequest(_)), "{err:?}");
    let bad_header = HttpRequestSpec {
        headers: vec![("Authorization".into(), "Bearer SECRET\r\nX: y".into())],
        ..HttpRequestSpec::get("http://127.0.0.1:9/")
    };
    let err = client.send(&bad_header, &opts()).await.unwrap_err();
    assert!(matches!(err, NetError::InvalidRequest(_)), "{err:?}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// SSRF guard

#[tokio::test]
async fn guard_refuses_private_ip_literals() {
    let client = guarded_client();
    for url in [
        "http://127.0.0.1:9/x?token=SECRET",
        "http://127.1.2.3/",
        "http://[::1]:9/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0:9/",
        "http://255.255.255.255/",
        "http://224.0.0.1/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::]/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://017700000001/",
        "https://127.0.0.1/",
        // Issue 10 item 8: benchmarking, TEST-NETs, and IPv6 forms that carry a refused IPv4.
        "http://198.18.0.1/",
        "http://192.0.2.1/",
        "http://198.51.100.7/",
        "http://203.0.113.9/",
        "http://[2002:7f00:1::]:9/",
        "http://[2002:a9fe:a9fe::]/",
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "http://[64:ff9b::7f00:1]:9/",
        "http://[::ffff:198.18.0.1]/",
        "http://[2001:db8::1]/",
    ] {
        let started = Instant::now();
        let result = client.send(&HttpRequestSpec::get(url), &opts()).await;
        assert_refused(result, url);
        assert!(started.elapsed() < Duration::from_secs(1), "{url}: refusal must not wait on the network");
    }
}

#[tokio::test]
async fn guard_refuses_a_reachable_loopback_server_and_sends_nothing() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/", ResponseTemplate::new(200)).await;
    let port = server.address().port();
    let client = guarded_client();
    assert_refused(client.send(&HttpRequestSpec::get(server.uri()), &opts()).await, "127.0.0.1 literal");
    // A host name that resolves to loopback goes through the guarded resolver instead.
    assert_refused(
        client.send(&HttpRequestSpec::get(format!("http://localhost:{port}/?k=SECRET")), &opts()).await,
        "localhost",
    );
    assert_eq!(request_count(&server).await, 0);
}

#[tokio::test]
async fn private_targets_are_reachable_when_allowed_install_wide_or_per_area() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/", ResponseTemplate::new(200).set_body_string("ok")).await;
    let port = server.address().port();

    let install_wide = open_client();
    let resp = install_wide.send(&HttpRequestSpec::get(format!("http://localhost:{port}/")), &opts()).await.unwrap();
    assert_eq!(resp.body, b"ok");

    let per_area = RequestOptions { allow_private_network: true, ..opts() };
    let guarded = guarded_client();
    for url in [server.uri(), format!("http://localhost:{port}/")] {
        let resp = guarded.send(&HttpRequestSpec::get(&url), &per_area).await.unwrap();
        assert_eq!(resp.body, b"ok", "{url}");
    }
    // The per-area override does not leak into the next, guarded request.
    assert_refused(guarded.send(&HttpRequestSpec::get(server.uri()), &opts()).await, "after override");
    assert_eq!(request_count(&server).await, 3);
}

/// A guarded client that lets through exactly `allowed` (the fake upstream the test talks to).
fn guarded_except(allowed: SocketAddr) -> HttpClient {
    HttpClient::new(NetConfig { private_exceptions: vec![allowed], ..NetConfig::default() }).unwrap()
}

#[tokio::test]
async fn exceptions_allow_exactly_one_address() {
    let allowed = MockServer::start().await;
    let other = MockServer::start().await;
    mount(&allowed, "GET", "/", ResponseTemplate::new(200)).await;
    mount(&other, "GET", "/", ResponseTemplate::new(200)).await;
    let client = guarded_except(*allowed.address());
    let resp = client.send(&HttpRequestSpec::get(allowed.uri()), &opts()).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_refused(client.send(&HttpRequestSpec::get(other.uri()), &opts()).await, "other port");
    let by_name = format!("http://localhost:{}/", allowed.address().port());
    assert_refused(client.send(&HttpRequestSpec::get(by_name), &opts()).await, "exception by name");
    assert_eq!(request_count(&other).await, 0);
}

#[tokio::test]
async fn redirect_to_a_private_address_is_refused() {
    let public = MockServer::start().await; // stands in for a public upstream via the exception
    let internal = MockServer::start().await;
    mount(&internal, "GET", "/", ResponseTemplate::new(200).set_body_string("internal secrets")).await;
    let internal_port = internal.address().port();
    for (from, to) in [
        ("/to-metadata", "http://169.254.169.254/latest/meta-data/".to_owned()),
        ("/to-lan", "http://10.0.0.1/admin".to_owned()),
        ("/to-internal", format!("{}/", internal.uri())),
        ("/to-localhost", format!("http://localhost:{internal_port}/")),
        ("/to-mapped", format!("http://[::ffff:127.0.0.1]:{internal_port}/")),
    ] {
        mount(&public, "GET", from, ResponseTemplate::new(302).insert_header("Location", to.as_str())).await;
    }
    let client = guarded_except(*public.address());
    for from in ["/to-metadata", "/to-lan", "/to-internal", "/to-localhost", "/to-mapped"] {
        let result = client.send(&HttpRequestSpec::get(format!("{}{from}", public.uri())), &opts()).await;
        assert_refused(result, from);
    }
    assert_eq!(request_count(&public).await, 5, "every first hop was allowed");
    assert_eq!(request_count(&internal).await, 0, "no redirect reached the internal server");
}

// ---------------------------------------------------------------------------------------------
// Redirects

#[tokio::test]
async fn redirects_are_followed_across_servers() {
    let a = MockServer::start().await;
    let b = MockServer::start().await;
    mount(&b, "GET", "/final", ResponseTemplate::new(200).set_body_string("arrived")).await;
    mount(
        &a,
        "GET",
        "/start",
        ResponseTemplate::new(301).insert_header("Location", format!("{}/final", b.uri()).as_str()),
    )
    .await;
    mount(&a, "GET", "/relative", ResponseTemplate::new(302).insert_header("Location", "/start")).await;
    let resp = open_client().send(&HttpRequestSpec::get(format!("{}/relative", a.uri())), &opts()).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"arrived");
    assert_eq!(request_count(&a).await, 2);
}

#[tokio::test]
async fn redirect_methods_follow_301_302_303_307_308_rules() {
    let server = MockServer::start().await;
    for code in [301u16, 302, 303, 307, 308] {
        mount(
            &server,
            "POST",
            &format!("/post-{code}"),
            ResponseTemplate::new(code).insert_header("Location", "/landing"),
        )
        .await;
    }
    mount(&server, "GET", "/landing", ResponseTemplate::new(200).set_body_string("get")).await;
    mount(&server, "POST", "/landing", ResponseTemplate::new(200).set_body_string("post")).await;
    let client = open_client();
    for (code, expected) in [(301, "get"), (302, "get"), (303, "get"), (307, "post"), (308, "post")] {
        let req = HttpRequestSpec {
            method: "POST".into(),
            url: format!("{}/post-{code}", server.uri()),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(b"{\"a\":1}".to_vec()),
        };
        let resp = client.send(&req, &opts()).await.unwrap();
        assert_eq!(resp.body, expected.as_bytes(), "{code}");
        let received = server.received_requests().await.unwrap();
        let landing = received.last().unwrap();
        if expected == "post" {
            assert_eq!(landing.body, b"{\"a\":1}", "{code} keeps the body");
            assert_eq!(landing.headers["content-type"], "application/json");
        } else {
            assert!(landing.body.is_empty(), "{code} drops the body");
            assert!(!landing.headers.contains_key("content-type"), "{code}");
        }
    }
}

#[tokio::test]
async fn credentials_do_not_follow_a_cross_origin_redirect() {
    let a = MockServer::start().await;
    let b = MockServer::start().await;
    mount(&a, "GET", "/same", ResponseTemplate::new(302).insert_header("Location", "/landing")).await;
    mount(&a, "GET", "/landing", ResponseTemplate::new(200)).await;
    mount(
        &a,
        "GET",
        "/away",
        ResponseTemplate::new(302).insert_header("Location", format!("{}/landing", b.uri()).as_str()),
    )
    .await;
    mount(&b, "GET", "/landing", ResponseTemplate::new(200)).await;
    let client = open_client();
    let headers = vec![
        ("Authorization".to_owned(), "Bearer SECRET".to_owned()),
        ("X-Api-Key".to_owned(), "SECRET".to_owned()),
        ("Cookie".to_owned(), "session=SECRET".to_owned()),
        ("Accept".to_owned(), "application/json".to_owned()),
    ];
    for p in ["/same", "/away"] {
        let req = HttpRequestSpec { headers: headers.clone(), ..HttpRequestSpec::get(format!("{}{p}", a.uri())) };
        assert_eq!(client.send(&req, &opts()).await.unwrap().status, 200);
    }
    let on_a = a.received_requests().await.unwrap();
    let same_landing = &on_a[1];
    assert_eq!(same_landing.url.path(), "/landing");
    assert_eq!(same_landing.headers["authorization"], "Bearer SECRET", "same origin keeps credentials");
    let on_b = b.received_requests().await.unwrap();
    assert_eq!(on_b.len(), 1);
    for secret_header in ["authorization", "x-api-key", "cookie"] {
        assert!(!on_b[0].headers.contains_key(secret_header), "{secret_header} leaked off-site");
    }
    assert_eq!(on_b[0].headers["accept"], "application/json");
}

#[tokio::test]
async fn redirect_chains_are_bounded() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/loop", ResponseTemplate::new(302).insert_header("Location", "/loop")).await;
    for i in 0..3 {
        mount(
            &server,
            "GET",
            &format!("/hop{i}"),
            ResponseTemplate::new(307).insert_header("Location", format!("/hop{}", i + 1).as_str()),
        )
        .await;
    }
    mount(&server, "GET", "/hop3", ResponseTemplate::new(200)).await;
    let client =
        HttpClient::new(NetConfig { allow_private_network: true, max_redirects: 3, ..NetConfig::default() }).unwrap();
    let ok = client.send(&HttpRequestSpec::get(format!("{}/hop0", server.uri())), &opts()).await.unwrap();
    assert_eq!(ok.status, 200, "exactly max_redirects hops are followed");
    let before = request_count(&server).await;
    let err = client.send(&HttpRequestSpec::get(format!("{}/loop", server.uri())), &opts()).await.unwrap_err();
    assert_eq!(err, NetError::TooManyRedirects);
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(request_count(&server).await - before, 4, "first request + 3 followed hops");
}

#[tokio::test]
async fn redirect_to_another_scheme_is_refused_and_3xx_without_location_is_data() {
    let server = MockServer::start().await;
    mount(&server, "GET", "/to-file", ResponseTemplate::new(302).insert_header("Location", "file:///etc/passwd")).await;
    mount(&server, "GET", "/no-location", ResponseTemplate::new(302)).await;
    mount(&server, "GET", "/not-modified", ResponseTemplate::new(304)).await;
    let client = open_client();
    let err = client.send(&HttpRequestSpec::get(format!("{}/to-file", server.uri())), &opts()).await.unwrap_err();
    assert!(matches!(err, NetError::InvalidUrl(_)), "{err:?}");
    for (p, status) in [("/no-location", 302), ("/not-modified", 304)] {
        let resp = client.send(&HttpRequestSpec::get(format!("{}{p}", server.uri())), &opts()).await.unwrap();
        assert_eq!(resp.status, status);
    }
}

#[tokio::test]
async fn client_clones_share_configuration_and_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<HttpClient>();
    let server = MockServer::start().await;
    mount(&server, "GET", "/", ResponseTemplate::new(200)).await;
    let client = open_client();
    let clones: Vec<HttpClient> = (0..4).map(|_| client.clone()).collect();
    let tasks: Vec<_> = clones
        .into_iter()
        .map(|c| {
            let url = server.uri();
            tokio::spawn(async move { c.send(&HttpRequestSpec::get(url), &RequestOptions::default()).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status, 200);
    }
    assert!(client.config().allow_private_network);
    assert_eq!(request_count(&server).await, 4);
}
