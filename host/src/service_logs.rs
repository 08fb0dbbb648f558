//! A query for services, end to end. Each plugin, in order, is asked which
//! of the still unclaimed services it serves, but only about those its
//! manifest's `claims` match: dropped-in plugins first (in the order
//! `plugins list` shows), then journald (the kubelet's
//! `checkForNativeLogger`), then the file fallback for the rest. Output then
//! follows the kubelet's `copyForBoot`: sources that honour options first;
//! then, for sources that do not (plain files), either their output or, if
//! options were given, the kubelet's "options present" message.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use http::{HeaderValue, Response, StatusCode, header};
use tokio::time::{Instant, timeout_at};

use crate::audit;
use crate::metrics::{Kind, Metrics};
use crate::query::Options;
use crate::reply;
use crate::route::App;
use crate::runtime::bindings::{Query, Timestamp};
use crate::runtime::{Instance, RunError, Runtime};
use crate::stream::{self, Body, Sink};

/// Bytes asked of a plugin per pull.
const BATCH: u32 = 64 << 10;

enum Step {
    Source {
        instance: Instance,
        services: Vec<String>,
    },
    Message(String),
}

pub async fn respond(
    app: &App,
    client: IpAddr,
    user: &str,
    services: Vec<String>,
    options: Options,
    gzip: bool,
    audit: &audit::Handle,
) -> Response<Body> {
    let metrics = &app.metrics;
    let permit = match app.queries.admit(client, user).await {
        Ok(permit) => permit,
        Err(busy) => {
            metrics.throttled(Kind::Query, &busy);
            return reply::too_many_requests("too many log queries are running; try again later");
        }
    };
    let in_flight = metrics.query_started();
    // One deadline for the whole query, as the kubelet's 30 s, but tied to
    // this request: a client that leaves also ends it (see `stream`).
    let deadline = Instant::now() + app.deadline;
    let planned = timeout_at(deadline, plan(&app.runtime, metrics, &services, &options)).await;
    if let Ok(Err(e)) = &planned {
        metrics.plugin_failed(e);
    }
    let steps = match planned {
        Ok(Ok(steps)) => steps,
        Ok(Err(e @ RunError::Busy { .. })) => {
            return reply::too_many_requests(&e.to_string());
        }
        Ok(Err(e)) => {
            // Escaped (Debug): the text may come from a plugin.
            tracing::error!(error = ?e.to_string(), "choosing log sources failed");
            return reply::error(StatusCode::INTERNAL_SERVER_ERROR, e);
        }
        Err(_) => {
            metrics.deadline_hit();
            return reply::error(
                StatusCode::GATEWAY_TIMEOUT,
                "log sources did not answer before the deadline",
            );
        }
    };
    audit.answered_by(steps.iter().filter_map(|step| match step {
        Step::Source { instance, .. } => Some(instance.plugin().to_string()),
        Step::Message(_) => None,
    }));
    let query = wit_query(&options);
    let audit = audit.clone();
    let metrics = metrics.clone();
    let body = stream::spawn(gzip, move |mut sink| async move {
        let _held = (permit, in_flight);
        // At the deadline the output simply ends, as in the kubelet.
        if timeout_at(deadline, run(steps, query, &metrics, &mut sink))
            .await
            .is_err()
        {
            audit.deadline_reached();
            metrics.deadline_hit();
        }
        sink
    });
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    if gzip {
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    resp
}

async fn plan(
    runtime: &Runtime,
    metrics: &Metrics,
    services: &[String],
    options: &Options,
) -> Result<Vec<Step>, RunError> {
    let mut unclaimed: Vec<String> = services.to_vec();
    let (mut filtered, mut unfiltered) = (Vec::new(), Vec::new());
    for index in 0..runtime.len() {
        if unclaimed.is_empty() {
            break;
        }
        let asked: Vec<String> = unclaimed
            .iter()
            .filter(|s| runtime.claims(index, s))
            .cloned()
            .collect();
        if asked.is_empty() {
            continue;
        }
        let started = Instant::now();
        let asking = async {
            let mut instance = runtime.instantiate(index).await?;
            metrics.plugin_instantiated(runtime.name(index));
            let answers = instance.serves(&asked).await?;
            Ok::<_, RunError>((instance, answers))
        }
        .await;
        metrics.plugin_worked(runtime.name(index), started.elapsed(), 0);
        let (instance, answers) = asking?;
        let mine: Vec<String> = asked
            .into_iter()
            .zip(answers)
            .filter_map(|(s, serves)| serves.then_some(s))
            .collect();
        if mine.is_empty() {
            continue;
        }
        unclaimed.retain(|s| !mine.contains(s));
        let supports_options = runtime.info(index).supports_options;
        let step = Step::Source {
            instance,
            services: mine,
        };
        if supports_options {
            filtered.push(step)
        } else {
            unfiltered.push(step)
        }
    }
    let mut steps = filtered;
    let plain: Vec<&String> = unfiltered.iter().flat_map(step_services).collect();
    if !plain.is_empty() && options.any() {
        let names: Vec<&str> = plain.iter().map(|s| s.as_str()).collect();
        steps.push(Step::Message(format!(
            "\noptions present and query resolved to log files for [{}]\ntry without specifying options\n",
            names.join(" ")
        )));
    } else {
        steps.extend(unfiltered);
    }
    steps.extend(
        unclaimed
            .into_iter()
            .map(|s| Step::Message(format!("\nlog not found for {s}\n"))),
    );
    Ok(steps)
}

fn step_services(step: &Step) -> &[String] {
    match step {
        Step::Source { services, .. } => services,
        Step::Message(_) => &[],
    }
}

async fn run(steps: Vec<Step>, template: Query, metrics: &Metrics, sink: &mut Sink) {
    for step in steps {
        let (instance, services) = match step {
            Step::Message(text) => {
                if sink.send(text.as_bytes()).await.is_err() {
                    return;
                }
                continue;
            }
            Step::Source { instance, services } => (instance, services),
        };
        let plugin: Arc<str> = instance.plugin().clone();
        let query = Query {
            services,
            ..template.clone()
        };
        let result: Result<bool, RunError> = async {
            let started = Instant::now();
            let opened = instance.open(&query).await;
            metrics.plugin_worked(&plugin, started.elapsed(), 0);
            let mut batches = opened?;
            loop {
                let started = Instant::now();
                let batch = batches.next(BATCH).await;
                let len = batch.as_ref().map_or(0, |b| b.as_ref().map_or(0, Vec::len));
                metrics.plugin_worked(&plugin, started.elapsed(), len);
                let Some(batch) = batch? else {
                    return Ok(true);
                };
                if sink.send(batch).await.is_err() {
                    return Ok(false);
                }
            }
        }
        .await;
        match result {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                metrics.plugin_failed(&e);
                tracing::error!(?plugin, error = ?e.to_string(), "log source failed");
                if sink
                    .send(format!("\nerror: {e}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

fn wit_query(o: &Options) -> Query {
    let ts = |t: &DateTime<FixedOffset>| Timestamp {
        seconds: t.timestamp(),
        nanoseconds: t.timestamp_subsec_nanos(),
    };
    Query {
        services: Vec::new(),
        since: o.since.as_ref().map(ts),
        until: o.until.as_ref().map(ts),
        // Validation bounds tailLines to 0..=100000 and boot to <= 0.
        tail_lines: o.tail_lines.map(|n| n as u32),
        boot: o.boot.map(|b| b.max(i64::from(i32::MIN)) as i32),
        pattern: (!o.pattern.is_empty()).then(|| o.pattern.clone()),
    }
}
