//! Outgoing mail. With `SMTP_URL` set, messages go through that server
//! (lettre, TLS by rustls); without it — the development default — each
//! message is written as an `.eml` file under `DATA_DIR/outbox/` and its path
//! logged, so a developer (or a test) can open the link inside.

use std::path::PathBuf;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("building the message: {0}")]
    Build(String),
    #[error("sending: {0}")]
    Send(String),
    #[error("writing to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp([redacted])"),
            Mailer::Outbox(dir) => write!(f, "Mailer::Outbox({})", dir.display()),
        }
    }
}

/// The sender of every message.
const FROM: &str = "doable <no-reply@doable.invalid>";

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        match &config.smtp_url {
            Some(url) => {
                let url = std::str::from_utf8(url.expose()).map_err(|e| MailError::Build(e.to_string()))?;
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Build(e.to_string()))?
                    .build();
                Ok(Mailer::Smtp(transport))
            }
            None => Ok(Mailer::Outbox(config.data_dir.join("outbox"))),
        }
    }

    /// Sends from a background task, so no request's timing depends on
    /// whether, or how slowly, a message went out; failures are logged.
    pub fn send_in_background(&self, to: String, subject: &'static str, body: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            if let Err(err) = mailer.send(&to, subject, body).await {
                tracing::error!(error = %err, subject, "mail not sent");
            }
        });
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to: Mailbox = to.parse().map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
        let from: Mailbox = FROM.parse().map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        match self {
            Mailer::Smtp(transport) => {
                transport.send(message).await.map_err(|e| MailError::Send(e.to_string()))?;
            }
            Mailer::Outbox(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let path = dir.join(format!("{}.eml", uuid::Uuid::now_v7()));
                tokio::fs::write(&path, message.formatted()).await?;
                // The path, not the content: the message holds a reset link.
                tracing::info!(path = %path.display(), "mail written to the outbox");
            }
        }
        Ok(())
    }
}
