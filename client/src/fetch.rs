//! One node's answer: the GET, the status check (a failure becomes the
//! server's own message), and the body as whole lines, gunzipped (by
//! `Content-Encoding` or by its magic bytes, as a rotated `.gz` file comes
//! without one) and, for a directory listing, one entry per line.

use std::io;

use async_compression::tokio::bufread::GzipDecoder;
use futures::TryStreamExt;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;

use crate::lines::{self, LineReader};
use crate::listing;

/// The most of an error body that is read and reported.
const MAX_ERROR_BODY: u64 = 4096;
const READ_BUFFER: usize = 64 * 1024;
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// A node and how to reach it.
pub struct Node {
    pub name: String,
    client: kube::Client,
    /// Prepended to `/logs/...`: the API server's node proxy path, or empty
    /// when the client talks to the node itself.
    path_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{status}: {message}")]
    Status { status: StatusCode, message: String },
    #[error("{0}")]
    Request(String),
    #[error("reading the response: {0}")]
    Read(#[from] io::Error),
}

type Reader = Box<dyn AsyncBufRead + Send + Unpin>;

/// A node's answer as whole lines.
pub struct Answer {
    lines: LineReader<Reader>,
    listing: bool,
}

impl Node {
    pub fn new(name: String, client: kube::Client, path_prefix: String) -> Self {
        Node {
            name,
            client,
            path_prefix,
        }
    }

    pub async fn get(&self, path_and_query: &str) -> Result<Answer, FetchError> {
        let req = Request::get(format!("{}{path_and_query}", self.path_prefix))
            .header(header::ACCEPT, "text/plain, */*")
            .header(header::ACCEPT_ENCODING, "gzip")
            .body(kube::client::Body::empty())
            .map_err(|e| FetchError::Request(e.to_string()))?;
        let resp = self
            .client
            .send(req)
            .await
            .map_err(|e| FetchError::Request(chain(&e)))?;
        let status = resp.status();
        let text = |name| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        let content_type = text(header::CONTENT_TYPE);
        let gzipped = text(header::CONTENT_ENCODING) == "gzip";
        let body = resp
            .into_body()
            .into_data_stream()
            .map_err(|e| io::Error::other(chain(&e)));
        let mut reader: Reader = Box::new(BufReader::with_capacity(
            READ_BUFFER,
            StreamReader::new(body),
        ));
        if gzipped || reader.fill_buf().await?.starts_with(GZIP_MAGIC) {
            let mut gunzip = GzipDecoder::new(reader);
            gunzip.multiple_members(true);
            reader = Box::new(BufReader::with_capacity(READ_BUFFER, gunzip));
        }
        if !status.is_success() {
            let message = error_message(reader, &content_type).await?;
            return Err(FetchError::Status { status, message });
        }
        let listing = listing::is_listing(&content_type, reader.fill_buf().await?);
        Ok(Answer {
            lines: LineReader::new(reader, lines::MAX_LINE),
            listing,
        })
    }
}

impl Answer {
    /// One or more whole lines; `None` at the end.
    pub async fn next_lines(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let Some(chunk) = self.lines.next_chunk().await? else {
                return Ok(None);
            };
            if !self.listing {
                return Ok(Some(chunk));
            }
            let mut entries = Vec::new();
            for mut name in lines::split(&chunk).filter_map(listing::entry) {
                name.push(b'\n');
                entries.extend_from_slice(&name);
            }
            if !entries.is_empty() {
                return Ok(Some(entries));
            }
        }
    }
}

/// The server's text: a kubelet or nodelogd answers plain text, the API
/// server a `Status` object whose `message` says it.
async fn error_message(reader: Reader, content_type: &str) -> io::Result<String> {
    let mut body = Vec::new();
    reader.take(MAX_ERROR_BODY).read_to_end(&mut body).await?;
    if content_type.starts_with("application/json")
        && let Ok(status) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(message) = status.get("message").and_then(|m| m.as_str())
    {
        return Ok(message.to_string());
    }
    Ok(String::from_utf8_lossy(&body).trim_end().to_string())
}

/// An error and its causes, `outer: inner: root`, for one stderr line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
