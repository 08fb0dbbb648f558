//! A dropped-in plugin that reads the journal, for the unit grant tests.
//! The first service name picks the query: `unit.NAME` reads unit NAME
//! through the plugin, `forward.NAME` too but forwarded to the host from
//! `open` (`journal.forward`), `whole` the whole journal, `fields.NAME`
//! lists field NAME's values (sorted, one a line). A refusal is printed as
//! the body, as `{error:?}`.

use exports::nodelogd::plugin::source::{
    Guest, GuestLogStream, LogStream, Query, SourceError, SourceInfo,
};
use nodelogd::plugin::journal::{self, Entries, JournalQuery};

wit_bindgen::generate!({ path: "../../../wit", world: "log-source" });

struct UnitReader;

impl Guest for UnitReader {
    type LogStream = Stream;

    fn info() -> SourceInfo {
        SourceInfo {
            name: "unit-reader".into(),
            version: "0".into(),
            description: "reads journal units for tests".into(),
            supports_options: false,
        }
    }

    fn serves(services: Vec<String>) -> Result<Vec<bool>, SourceError> {
        Ok(vec![true; services.len()])
    }

    fn open(q: Query) -> Result<LogStream, SourceError> {
        let mode = q.services.first().cloned().unwrap_or_default();
        let query = |units: Vec<String>| JournalQuery {
            units,
            boot: None,
            since: None,
            until: None,
            pattern: None,
            lines: None,
            pager_end: false,
            reverse: false,
            last: None,
        };
        let state = if let Some(field) = mode.strip_prefix("fields.") {
            match journal::field_values(field) {
                Ok(mut values) => {
                    values.sort();
                    State::Text(values.iter().map(|v| format!("{v}\n")).collect())
                }
                Err(e) => State::Text(format!("{e:?}")),
            }
        } else {
            let forward = mode.strip_prefix("forward.");
            let units = match mode.strip_prefix("unit.").or(forward) {
                Some(unit) => vec![unit.to_string()],
                None => Vec::new(),
            };
            match journal::query(&query(units)) {
                // This stream ends where the forwarded query begins.
                Ok(entries) if forward.is_some() => match journal::forward(entries) {
                    Ok(()) => State::Text(String::new()),
                    Err(e) => State::Text(format!("{e:?}")),
                },
                Ok(entries) => State::Entries(entries),
                Err(e) => State::Text(format!("{e:?}")),
            }
        };
        Ok(LogStream::new(Stream {
            state: Some(state).into(),
        }))
    }
}

enum State {
    Entries(Entries),
    Text(String),
}

struct Stream {
    state: std::cell::RefCell<Option<State>>,
}

impl GuestLogStream for Stream {
    fn next_batch(&self, max_bytes: u32) -> Result<Option<Vec<u8>>, SourceError> {
        let mut state = self.state.borrow_mut();
        match state.take() {
            None => Ok(None),
            Some(State::Text(text)) => Ok(Some(text.into_bytes()).filter(|t| !t.is_empty())),
            Some(State::Entries(entries)) => {
                let batch = entries
                    .next_batch(max_bytes)
                    .map_err(|e| SourceError::Io(format!("{e:?}")))?;
                if batch.is_some() {
                    *state = Some(State::Entries(entries));
                }
                Ok(batch)
            }
        }
    }
}

export!(UnitReader);
