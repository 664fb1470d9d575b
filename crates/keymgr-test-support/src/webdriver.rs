//! A headless Chromium driven through ChromeDriver with the W3C WebDriver protocol (HTTP and
//! JSON, spoken here over a plain TCP stream), and the skip-or-fail rule of
//! `KEYMGR_REQUIRE_BROWSER`.
//!
//! Debian's `chromium` and `chromium-driver` packages (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`) are what `.ci/run` installs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether Chromium and ChromeDriver are installed; without them a test skips, unless
/// `KEYMGR_REQUIRE_BROWSER=1`, which makes it fail.
pub fn browser_or_skip() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        if std::env::var("KEYMGR_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!(
                "KEYMGR_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!("skipping: no {CHROMIUM} / {CHROMEDRIVER} (apt-get install chromium chromium-driver)");
    }
    present
}

/// A ChromeDriver process and one browser session in it; both end when this is dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.1 exchange with ChromeDriver: `method path` with a JSON body; the JSON answer.
fn exchange(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut bytes = Vec::new();
    match length {
        Some(n) => {
            bytes.resize(n, 0);
            reader.read_exact(&mut bytes).unwrap();
        }
        None => {
            reader.read_to_end(&mut bytes).unwrap();
        }
    }
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a `width` x `height` window.
    pub fn start(width: u32, height: u32) -> Self {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--window-size={width},{height}"), "--force-device-scale-factor=1"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let (status, answer) = exchange(port, "POST", "/session", Some(&capabilities));
        assert_eq!(status, 200, "new session: {answer}");
        let session = answer["value"]["sessionId"].as_str().expect("a session id").to_owned();
        Self { driver, port, session }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        let (status, answer) = exchange(self.port, method, &full, body.as_ref());
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer["value"].clone()
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or_default().to_owned()
    }

    /// The page's visible text. A page that navigates meanwhile (a job page reloads itself when
    /// the job ends) makes the body stale: it is found again.
    pub fn text(&self) -> String {
        for _ in 0..50 {
            let body = self.find("body");
            let path = format!("/session/{}/element/{body}/text", self.session);
            let (status, answer) = exchange(self.port, "GET", &path, None);
            if status == 200 {
                return answer["value"].as_str().unwrap_or_default().to_owned();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the page at {} kept changing", self.url());
    }

    /// The first element matching the CSS `selector`, waiting up to 10 s for it.
    pub fn find(&self, selector: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let full = format!("/session/{}/element", self.session);
            let (status, answer) = exchange(
                self.port,
                "POST",
                &full,
                Some(&json!({"using": "css selector", "value": selector})),
            );
            if status == 200
                && let Some(map) = answer["value"].as_object()
                && let Some(id) = map.values().next().and_then(Value::as_str)
            {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "no element {selector} on {}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first element matching `selector` (found again if the page changed under
    /// it).
    pub fn click(&self, selector: &str) {
        for _ in 0..20 {
            let id = self.find(selector);
            let path = format!("/session/{}/element/{id}/click", self.session);
            let (status, _) = exchange(self.port, "POST", &path, Some(&json!({})));
            if status == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{selector} on {} could not be clicked", self.url());
    }

    /// Types `text` into the first element matching `selector`.
    pub fn type_into(&self, selector: &str, text: &str) {
        let id = self.find(selector);
        self.call("POST", &format!("/element/{id}/value"), Some(json!({"text": text})));
    }

    /// Presses Tab `n` times and returns the focused element's text and tag, for keyboard
    /// navigation checks.
    pub fn focused_after_tabs(&self, n: usize) -> (String, String) {
        let tab = "\u{E004}";
        let actions: Vec<Value> = (0..n)
            .flat_map(|_| [json!({"type": "keyDown", "value": tab}), json!({"type": "keyUp", "value": tab})])
            .collect();
        self.call(
            "POST",
            "/actions",
            Some(json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})),
        );
        let active = self.call("GET", "/element/active", None);
        let id = active
            .as_object()
            .and_then(|m| m.values().next())
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let text =
            self.call("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or_default().to_owned();
        let tag =
            self.call("GET", &format!("/element/{id}/name"), None).as_str().unwrap_or_default().to_owned();
        (text, tag)
    }

    /// Waits until the URL contains `part`.
    pub fn wait_for_url(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.url().contains(part) {
            assert!(
                Instant::now() < deadline,
                "the URL {} never contained {part}; the page says: {}",
                self.url(),
                self.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the page's text contains `part`.
    pub fn wait_for_text(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.text().contains(part) {
            assert!(Instant::now() < deadline, "the page at {} never said {part:?}", self.url());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Saves a PNG screenshot of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let data = self.call("GET", "/screenshot", None);
        let png =
            base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap_or_default()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// The browser's console log since the last call: (level, message).
    pub fn console_log(&self) -> Vec<(String, String)> {
        let entries = self.call("POST", "/se/log", Some(json!({"type": "browser"})));
        entries
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = exchange(self.port, "DELETE", &format!("/session/{}", self.session), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
