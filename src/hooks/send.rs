//! Sending one delivery: the address checked (after DNS, on the address
//! actually connected to), the body signed, the answer read up to a cap.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a receiver has to answer (GitHub gives 10 seconds).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read; the rest is not waited for.
pub const MAX_RESPONSE_BYTES: usize = 64 << 10;
/// How much of an answer is kept to show.
pub const KEPT_RESPONSE_BYTES: usize = 8 << 10;

/// Where webhooks may go: anywhere public, and the hosts the admin allows
/// (`--webhook-allow-hosts`) even when they are private.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allowed: Vec<String>,
}

impl Policy {
    pub fn new(allowed: &[String]) -> Policy {
        Policy {
            allowed: allowed
                .iter()
                .map(|h| normal_host(h))
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.allowed.contains(&host)
    }

    /// Checks a hook's URL as it is saved and before each delivery: http(s),
    /// a host, and no address it resolves to that is forbidden.
    pub async fn check(&self, text: &str) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "a webhook URL must be http:// or https://, not {}:",
                url.scheme()
            ));
        }
        let Some(host) = url.host_str() else {
            return Err("a webhook URL must name a host".into());
        };
        if self.allows_host(host) {
            return Ok(url);
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs = resolve(host, port).await?;
        if let Some(bad) = addrs.iter().find_map(|a| forbidden(a.ip()).map(|why| (a.ip(), why))) {
            return Err(format!(
                "{host} is {why} ({}); webhooks may reach only public addresses unless the admin allows the host with --webhook-allow-hosts",
                bad.0,
                why = bad.1
            ));
        }
        Ok(url)
    }

    /// The HTTP client deliveries go through: no proxy from the
    /// environment, no redirects, and a resolver that gives only allowed
    /// addresses, so what is connected to is what was checked.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("Hearth-Hookshot/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Guard(self.clone())))
            .build()
            .expect("the webhook client's settings are valid")
    }
}

fn normal_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let host = normal_host(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found: Vec<SocketAddr> = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
        .await
        .map_err(|_| format!("looking up {host} took too long"))?
        .map_err(|e| format!("could not look up {host}: {e}"))?
        .collect();
    if found.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(found)
}

/// The resolver of the delivery client.
struct Guard(Policy);

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, host) = (self.0.clone(), name.as_str().to_string());
        Box::pin(async move {
            let addrs = resolve(&host, 0).await?;
            if !policy.allows_host(&host)
                && let Some(a) = addrs.iter().find(|a| forbidden(a.ip()).is_some())
            {
                return Err(format!("{host} resolves to a forbidden address ({})", a.ip()).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Why `ip` may not be reached by a webhook, if it may not.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            // Every form that carries an IPv4 address is that address.
            if let Some(v4) = embedded_v4(v6) {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
                // Unique local (fc00::/7), and the site-local addresses before them (fec0::/10).
                Some("a private address")
            } else if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
                // NAT64 for local use (64:ff9b:1::/48) carries any address a site chooses.
                Some("a private address")
            } else if s[0] == 0x2001 && s[1] == 0 {
                // Teredo (2001::/32) tunnels to an IPv4 address hidden in it.
                Some("a tunnelled (Teredo) address")
            } else if s[0] == 0x100 && s[1..4] == [0, 0, 0] {
                Some("a discard-only address")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("a link-local address")
            } else if v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0) || s[0] == 0x2001 && s[1] == 0xdb8 {
                Some("a documentation address")
            } else {
                None
            }
        }
    }
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, as `::7f00:1`), NAT64
/// (`64:ff9b::/96`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    match s {
        // `::` and `::1` are IPv6's own.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if o[0] == 169 && o[1] == 254 {
        // 169.254.169.254 is the cloud metadata service.
        Some("a link-local or metadata address")
    } else if o[0] == 0 {
        Some("the unspecified address")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_multicast() || ip.is_broadcast() || o[0] >= 240 || (o[0] == 192 && o[1] == 0 && o[2] == 0) {
        Some("a reserved address")
    } else {
        None
    }
}

/// `sha256=` and the HMAC-SHA256 of `body` under `secret`, as GitHub's
/// `X-Hub-Signature-256` header carries it.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// What one attempt sent and got.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<u16>,
    /// Empty when it was answered 2xx.
    pub error: String,
    pub request_headers: Vec<(String, String)>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: String,
    /// Worth trying again (no answer, a timeout, 5xx, 408, 429).
    pub retry: bool,
}

/// Sends `body` to `url` with `headers`.
pub async fn post(
    policy: &Policy,
    client: &reqwest::Client,
    url: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> Outcome {
    let started_at = crate::time::now();
    let clock = Instant::now();
    let mut outcome = Outcome {
        started_at,
        duration_ms: 0,
        status_code: None,
        error: String::new(),
        request_headers: headers.clone(),
        response_headers: Vec::new(),
        response_body: String::new(),
        retry: false,
    };
    // Checked again at delivery: the host may resolve elsewhere by now.
    let url = match policy.check(url).await {
        Ok(u) => u,
        Err(e) => {
            outcome.error = e;
            return outcome;
        }
    };
    let mut request = client.post(url);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let sent = tokio::time::timeout(TIMEOUT, async {
        let mut response = request.body(body).send().await?;
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let mut kept = Vec::new();
        let mut read = 0usize;
        while let Some(chunk) = response.chunk().await? {
            read += chunk.len();
            if kept.len() < KEPT_RESPONSE_BYTES {
                let room = KEPT_RESPONSE_BYTES - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            if read >= MAX_RESPONSE_BYTES {
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, headers, kept, read >= MAX_RESPONSE_BYTES))
    })
    .await;
    outcome.duration_ms = clock.elapsed().as_millis() as i64;
    match sent {
        Err(_) => {
            outcome.error = format!("timed out: no answer within {} seconds", TIMEOUT.as_secs());
            outcome.retry = true;
        }
        Ok(Err(e)) => {
            outcome.error = describe(&e);
            outcome.retry = !e.is_builder();
        }
        Ok(Ok((status, headers, kept, cut))) => {
            outcome.status_code = Some(status.as_u16());
            outcome.response_headers = headers;
            outcome.response_body = String::from_utf8_lossy(&kept).into_owned();
            if cut {
                outcome
                    .response_body
                    .push_str("\n… (the rest of the answer was not read)");
            }
            if !status.is_success() {
                outcome.error = if status.is_redirection() {
                    format!(
                        "Invalid HTTP Response: {} (redirects are not followed)",
                        status.as_u16()
                    )
                } else {
                    format!("Invalid HTTP Response: {}", status.as_u16())
                };
                outcome.retry = status.is_server_error() || matches!(status.as_u16(), 408 | 429);
            }
        }
    }
    outcome
}

/// An error of the client, with its causes (the resolver's refusal among them).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        format!("timed out: {text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses_are_named() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            // IPv4-compatible, of loopback and of private space.
            "::7f00:1",
            "::127.0.0.1",
            "::a00:1",
            // 6to4 of private space, loopback and metadata.
            "2002:c0a8:101::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            // NAT64 of private space, and NAT64 for local use.
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::a00:1",
            // Site-local, Teredo, discard-only.
            "fec0::1",
            "feff::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip} should be forbidden");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::8.8.8.8",
            "2002:808:808::1",
            "64:ff9b::8.8.8.8",
        ] {
            assert_eq!(forbidden(ip.parse().unwrap()), None, "{ip} is public");
        }
    }

    #[test]
    fn signature_is_githubs() {
        // The example of GitHub's documentation on validating deliveries.
        assert_eq!(
            signature(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
