//! `--token-auth-file`: static bearer tokens in kube-apiserver's CSV
//! format, `token,user,uid[,"group1,group2"]`, one per line.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use super::User;

/// Longest token file read: far beyond any real one, so a wrong path (a
/// log file, a device) fails instead of filling memory.
const MAX_FILE_BYTES: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge { path: String },
    #[error("{path}, line {line}: {reason}")]
    Line {
        path: String,
        line: u64,
        reason: String,
    },
    #[error("{path} holds no token")]
    Empty { path: String },
}

/// The tokens of a token file, kept only as SHA-256 digests so that a
/// memory dump or a debug print shows none of them.
#[derive(Clone)]
pub struct TokenFile {
    entries: Vec<([u8; 32], User)>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenFile({} tokens)", self.entries.len())
    }
}

impl TokenFile {
    pub fn read(path: &Path) -> Result<Self, TokenFileError> {
        let shown = path.display().to_string();
        let read_err = |source| TokenFileError::Read {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_FILE_BYTES {
            return Err(TokenFileError::TooLarge { path: shown });
        }
        let text = std::fs::read(path).map_err(read_err)?;
        Self::parse(&text, &shown)
    }

    /// One token for one user: the token generated on a first run.
    pub fn single(token: &str, user: User) -> Self {
        TokenFile {
            entries: vec![(digest(token), user)],
        }
    }

    fn parse(text: &[u8], path: &str) -> Result<Self, TokenFileError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut entries: Vec<([u8; 32], User)> = Vec::new();
        for record in reader.records() {
            let line_err = |line: u64, reason: String| TokenFileError::Line {
                path: path.to_string(),
                line,
                reason,
            };
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                line_err(line, e.to_string())
            })?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() < 3 {
                return Err(line_err(
                    line,
                    format!(
                        "at least 3 columns (token, user name, user uid) are needed, found {}",
                        record.len()
                    ),
                ));
            }
            // kube-apiserver warns and skips these; a token file is
            // written by hand, so a mistake is refused where it is.
            if record[0].is_empty() {
                return Err(line_err(line, "the token is empty".into()));
            }
            if record[1].is_empty() {
                return Err(line_err(line, "the user name is empty".into()));
            }
            let digest = digest(&record[0]);
            if entries.iter().any(|(d, _)| *d == digest) {
                return Err(line_err(
                    line,
                    "the same token is on an earlier line".into(),
                ));
            }
            let groups = record.get(3).map_or_else(Vec::new, |g| {
                g.split(',')
                    .filter(|g| !g.is_empty())
                    .map(String::from)
                    .collect()
            });
            let user = User {
                name: record[1].to_string(),
                uid: record[2].to_string(),
                groups,
            };
            entries.push((digest, user));
        }
        if entries.is_empty() {
            return Err(TokenFileError::Empty {
                path: path.to_string(),
            });
        }
        Ok(TokenFile { entries })
    }

    /// The user of `token`. Every entry is compared, in constant time, so
    /// the answer's timing tells nothing about how close a guess was.
    pub fn user(&self, token: &str) -> Option<&User> {
        let presented = digest(token);
        let mut found = 0u32;
        let mut index = 0u32;
        for (i, (d, _)) in self.entries.iter().enumerate() {
            let hit = d.ct_eq(&presented);
            // At most 4 MiB of file: the index fits.
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index.conditional_assign(&i, hit);
            found |= u32::from(hit.unwrap_u8());
        }
        let index = usize::try_from(index).ok()?;
        (found == 1).then(|| &self.entries[index].1)
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kube_apiserver_format() {
        let file = TokenFile::parse(
            b"admin-token,admin,1,\"system:masters,ops\"\nview-token,viewer,2\n",
            "tokens.csv",
        )
        .unwrap();
        let admin = file.user("admin-token").unwrap();
        assert_eq!(admin.name, "admin");
        assert_eq!(admin.uid, "1");
        assert_eq!(admin.groups, ["system:masters", "ops"]);
        assert!(file.user("view-token").unwrap().groups.is_empty());
        assert!(file.user("admin-toke").is_none());
        assert!(file.user("").is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let err = |text: &[u8]| {
            TokenFile::parse(text, "t.csv")
                .map(drop)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(b"a,b,c\nshort,line\n"),
            "t.csv, line 2: at least 3 columns (token, user name, user uid) are needed, found 2"
        );
        assert_eq!(err(b",b,c\n"), "t.csv, line 1: the token is empty");
        assert_eq!(
            err(b"a,b,c\na,d,e\n"),
            "t.csv, line 2: the same token is on an earlier line"
        );
        assert_eq!(err(b""), "t.csv holds no token");
    }
}
