//! `smtp://[user:password@]host[:port]/?from=a@example.com&to=b@example.com[,c@...]` (shoutrrr's
//! form): a plain-text mail through lettre. `?subject=` replaces the title as subject;
//! `?encryption=` is `auto` (default: implicit TLS on port 465, STARTTLS required elsewhere
//! but opportunistic towards a loopback relay), `none`, `starttls` (or shoutrrr's
//! `explicittls`) or `tls` (or `implicittls`). The default port is 25.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::Url;

use super::url::{decode, param};
use super::{Context, Error, Message};
use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encryption {
    None,
    Opportunistic,
    StartTls,
    Implicit,
}

#[derive(Debug)]
pub struct Smtp {
    host: String,
    port: u16,
    credentials: Option<(String, Secret)>,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Option<String>,
    encryption: Encryption,
}

pub fn parse(url: &Url) -> Result<Smtp, String> {
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("smtp:// URL: the URL has no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port().unwrap_or(25);
    let address = |text: &str, what: &str| {
        text.trim()
            .parse::<Mailbox>()
            .map_err(|e| format!("smtp:// URL: {what} address `{text}`: {e}"))
    };
    let from = param(url, "from").ok_or("smtp:// URL: from= is missing")?;
    let to = param(url, "to").ok_or("smtp:// URL: to= is missing")?;
    let to = to
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|t| address(t, "to"))
        .collect::<Result<Vec<_>, _>>()?;
    if to.is_empty() {
        return Err("smtp:// URL: to= names no address".into());
    }
    let username = decode(url.username());
    let credentials = (!username.is_empty()).then(|| {
        (
            username,
            Secret::new(decode(url.password().unwrap_or_default())),
        )
    });
    Ok(Smtp {
        encryption: encryption(param(url, "encryption").as_deref(), &host, port)?,
        from: address(&from, "from")?,
        to,
        subject: param(url, "subject"),
        host,
        port,
        credentials,
    })
}

fn encryption(value: Option<&str>, host: &str, port: u16) -> Result<Encryption, String> {
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("auto") if port == 465 => Ok(Encryption::Implicit),
        None | Some("auto") if loopback => Ok(Encryption::Opportunistic),
        None | Some("auto") => Ok(Encryption::StartTls),
        Some("none") => Ok(Encryption::None),
        Some("starttls" | "explicittls") => Ok(Encryption::StartTls),
        Some("tls" | "implicittls") => Ok(Encryption::Implicit),
        Some(other) => Err(format!(
            "smtp:// URL: encryption={other}: expected auto, none, starttls or tls"
        )),
    }
}

impl Smtp {
    pub fn redacted(&self) -> String {
        format!("smtp://{}:{}/***", self.host, self.port)
    }

    pub async fn send(&self, _: &Context, message: &Message) -> Result<(), Error> {
        let mut mail = lettre::Message::builder()
            .from(self.from.clone())
            .subject(
                self.subject
                    .clone()
                    .unwrap_or_else(|| message.title.clone()),
            )
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            mail = mail.to(to.clone());
        }
        let mail = mail
            .body(message.text.clone())
            .map_err(|e| Error::Message(e.to_string()))?;
        let transport = self.transport()?;
        transport
            .send(mail)
            .await
            .map(drop)
            .map_err(|e| Error::Smtp {
                transient: e.is_transient() || !e.is_permanent(),
                message: super::error_chain(&e),
            })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, Error> {
        let tls = || {
            TlsParameters::new(self.host.clone()).map_err(|e| Error::Smtp {
                message: e.to_string(),
                transient: false,
            })
        };
        let tls = match self.encryption {
            Encryption::None => Tls::None,
            Encryption::Opportunistic => Tls::Opportunistic(tls()?),
            Encryption::StartTls => Tls::Required(tls()?),
            Encryption::Implicit => Tls::Wrapper(tls()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(10)));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(text: &str) -> Smtp {
        parse(&Url::parse(text).unwrap()).unwrap()
    }

    #[test]
    fn the_url_gives_relay_addresses_and_encryption() {
        let s =
            smtp("smtp://me%40x:p%2Fw@mail.example.com:587/?from=refit@x.org&to=a@x.org,b@x.org");
        assert_eq!((s.host.as_str(), s.port), ("mail.example.com", 587));
        let (user, password) = s.credentials.as_ref().unwrap();
        assert_eq!((user.as_str(), password.expose()), ("me@x", "p/w"));
        assert_eq!(s.to.len(), 2);
        assert_eq!(s.encryption, Encryption::StartTls);
        assert_eq!(
            smtp("smtp://h:465/?from=a@x.org&to=b@x.org").encryption,
            Encryption::Implicit
        );
        let local = smtp("smtp://127.0.0.1:2525/?from=a@x.org&to=b@x.org");
        assert_eq!(local.encryption, Encryption::Opportunistic);
        assert!(local.credentials.is_none());
        let none = smtp("smtp://h/?from=a@x.org&to=b@x.org&encryption=None");
        assert_eq!((none.encryption, none.port), (Encryption::None, 25));
    }

    #[test]
    fn addresses_are_checked() {
        let error = parse(&Url::parse("smtp://h/?from=nope&to=b@x.org").unwrap()).unwrap_err();
        assert!(error.contains("from address"), "{error}");
    }
}
