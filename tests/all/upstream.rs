//! The compatibility spec's acceptance list (§5 of the kubelet reference),
//! the cases that apply to Linux, through HTTP: status code and exact body.
//! Case ids are the spec's (U-P = parsing, U-S = service names, U-V =
//! validation, U-H = file fallback, U-M = methods, D = derived, E = e2e).

use nodelogd_tests::http;
use nodelogd_tests::logtree;

use crate::fixture;

const LISTING_HEAD: &str =
    "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n";

#[track_caller]
fn expect(method: &str, target: &str, status: u16, body: &str) {
    let resp = http::request(fixture().addr, method, target, &[]);
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (status, body),
        "{method} {target}"
    );
}

#[track_caller]
fn get(target: &str, status: u16, body: &str) {
    expect("GET", target, status, body);
}

#[track_caller]
fn listing(target: &str) {
    let resp = http::get(fixture().addr, target);
    assert_eq!(resp.status, 200, "{target}");
    assert!(
        resp.text().starts_with(LISTING_HEAD),
        "{target}: {}",
        resp.text()
    );
}

#[test]
fn u_p_parsing() {
    listing("/logs/"); // U-P1
    listing("/logs/?unknown=true"); // U-P2
    listing("/logs/?sinceTime="); // U-P3
    for (field, bad) in [
        ("sinceTime", "2019-12-04%2002:00:00"),
        ("untilTime", "2019-12-04%2002:00:00.000"),
        ("sinceTime", "2019-12-04%2002"),
        ("untilTime", "2019-12-04%2002:00"),
    ] {
        let shown = bad.replace("%20", " ");
        get(
            &format!("/logs/?{field}={bad}"),
            400,
            &format!("{field}: Invalid value: \"{shown}\": invalid time format\n"),
        ); // U-P4..7, U-P10..13
    }
    get(
        "/logs/?sinceTime=2019-12-04T02:00:00Z",
        406,
        "query: Required value: cannot be empty with options\n",
    ); // U-P8
    get(
        "/logs/?tailLines=foo",
        400,
        "tailLines: Invalid value: \"foo\": strconv.Atoi: parsing \"foo\": invalid syntax\n",
    ); // U-P16
    get(
        "/logs/?tailLines=%20",
        400,
        "tailLines: Invalid value: \" \": strconv.Atoi: parsing \" \": invalid syntax\n",
    ); // U-P17
    get(
        "/logs/?pattern=foo",
        406,
        "query: Required value: cannot be empty with options\n",
    ); // U-P18
    listing("/logs/?boot="); // U-P19
    get(
        "/logs/?boot=foo",
        400,
        "boot: Invalid value: \"foo\": strconv.Atoi: parsing \"foo\": invalid syntax\n",
    ); // U-P22
    get(
        "/logs/?boot=%20",
        400,
        "boot: Invalid value: \" \": strconv.Atoi: parsing \" \": invalid syntax\n",
    ); // U-P23
    get(
        "/logs/?query=",
        400,
        "query: Invalid value: [\"\"]: query cannot be empty\n",
    ); // U-P24
    get(
        "/logs/?query",
        400,
        "query: Invalid value: [\"\"]: query cannot be empty\n",
    ); // E1
    get(
        "/logs/?query=%20%20%20&query=%20%20%20%20",
        400,
        "query: Invalid value: [\"   \",\"    \"]: query cannot be empty\n",
    ); // U-P25
    get(
        "/logs/?query=foo&query=/bar",
        406,
        "query: Invalid value: \"[/bar], [foo]\": cannot specify a file and service\n",
    ); // U-P28
    get(
        "/logs/?query=/foo&query=%5Cbar",
        406,
        "query: Invalid value: [\"/foo\",\"\\\\bar\"]: cannot specify more than one file\n",
    ); // U-P29
}

#[test]
fn u_s_service_names() {
    for ok in ["svc.foo", "svc_foo", "svc@foo", "svc:foo"] {
        // Valid names no source knows: the file fallback answers.
        get(
            &format!("/logs/?query={ok}"),
            200,
            &format!("\nlog not found for {ok}\n"),
        ); // U-S3..6
    }
    get(
        "/logs/?query=svc%0A",
        406,
        "query: Invalid value: \"svc\\n\": input contains unsupported characters\n",
    ); // U-S7
    get(
        "/logs/?query=svc.foo%0A",
        406,
        "query: Invalid value: \"svc.foo\\n\": input contains unsupported characters\n",
    ); // U-S8
    let long = "svc1".repeat(100);
    get(
        &format!("/logs/?query={long}"),
        406,
        &format!("query: Invalid value: \"{long}\": length must be less than 100\n"),
    ); // U-S10
    get(
        "/logs/?query=a&query=b&query=c&query=d&query=e",
        406,
        "query: Too many: 5: must have at most 4 items\n",
    ); // U-S11, D9
    get(
        "/logs/?query=kube%20let",
        406,
        "query: Invalid value: \"kube let\": input contains unsupported characters\n",
    ); // D10
}

#[test]
fn u_v_validation() {
    get(
        "/logs/?query=/filelogged.log&pattern=x",
        406,
        "query: Invalid value: [\"/filelogged.log\"]: cannot specify file with options\n",
    ); // U-V7
    get(
        "/logs/?query=kubelet&pattern=foo%5C",
        406,
        "pattern: Invalid value: \"foo\\\\\": error parsing regexp: trailing backslash at end of expression: ``\n",
    ); // U-V8
    get(
        "/logs/?query=kubelet&sinceTime=2023-02-04T00:00:00Z&untilTime=2023-01-04T00:00:00Z",
        406,
        "untilTime: Invalid value: \"2023-01-04T00:00:00Z\": must be after `sinceTime`\n",
    ); // U-V11, D13
    get(
        "/logs/?query=kubelet&boot=1",
        406,
        "boot: Invalid value: 1: must be less than 1\n",
    ); // U-V13, D12
    get(
        "/logs/?query=kubelet&tailLines=100001",
        406,
        "tailLines: Invalid value: 100001: must be between 0 and 100000, inclusive\n",
    ); // D11
    assert_eq!(
        http::get(fixture().addr, "/logs/?query=kubelet&tailLines=100000").status,
        200
    ); // U-V15
    get(
        "/logs/?query=kubelet&pattern=(%3F%3Dx)",
        406,
        "pattern: Invalid value: \"(?=x)\": error parsing regexp: invalid or unsupported Perl syntax: `(?=`\n",
    ); // D14
    get(
        "/logs/?sinceTime=2024-01-01T00:00:00Z",
        406,
        "query: Required value: cannot be empty with options\n",
    ); // D15
    get(
        "/logs/?query=kubelet&boot=1&tailLines=-1",
        406,
        "[boot: Invalid value: 1: must be less than 1, tailLines: Invalid value: -1: must be between 0 and 100000, inclusive]\n",
    ); // D21
}

/// Patterns that Go's regexp refuses but the RE2 check once let through to
/// journalctl, whose PCRE2 then failed inside a 200 response.
#[test]
fn patterns_go_refuses_are_406_before_any_source_runs() {
    for (pattern, shown, detail) in [
        (
            "a%7B1000%7D%7B1000%7D",
            "a{1000}{1000}",
            "error parsing regexp: invalid nested repetition operator: `{1000}{1000}`",
        ),
        (
            ".%7B65536%7D",
            ".{65536}",
            "error parsing regexp: invalid repeat count: `{65536}`",
        ),
        (
            "(a%7B100%7D)%7B100%7D",
            "(a{100}){100}",
            "error parsing regexp: invalid repeat count: `{100}`",
        ),
        ("a%00b", "a\\x00b", "input contains unsupported characters"),
    ] {
        get(
            &format!("/logs/?query=kubelet&pattern={pattern}"),
            406,
            &format!("pattern: Invalid value: \"{shown}\": {detail}\n"),
        );
    }
}

#[test]
fn u_h_file_fallback() {
    get(
        "/logs/?query=nofile.log",
        200,
        "\nlog not found for nofile.log\n",
    ); // U-H1
    get("/logs/?query=nofile", 200, "\nlog not found for nofile\n"); // U-H2, D17
    get("/logs/?query=filelogged", 200, logtree::FILELOGGED); // U-H3/H4, D16 (<svc>.log)
    get("/logs/?query=plainname", 200, "from plainname\n"); // <svc>
    get("/logs/?query=svcdir", 200, "from svcdir/svcdir.log\n"); // U-H5: a directory is skipped
    get("/logs/?query=onlydir", 200, "\nlog not found for onlydir\n");
    get(
        "/logs/?query=filelogged&tailLines=5",
        200,
        "\noptions present and query resolved to log files for [filelogged]\ntry without specifying options\n",
    ); // D16 with options
}

#[test]
fn journal_output_comes_before_the_file_fallback() {
    let resp = http::get(fixture().addr, "/logs/?query=filelogged&query=sshd");
    let want = [
        fixture().kubelet_journalctl(&["--unit=sshd"]),
        logtree::FILELOGGED.as_bytes().to_vec(),
    ]
    .concat();
    assert_eq!(resp.status, 200);
    assert!(resp.body == want, "journal output then the file");
    let resp = http::get(
        fixture().addr,
        "/logs/?query=filelogged&query=sshd&query=nofile&tailLines=1",
    );
    let journal = fixture().kubelet_journalctl(&["--pager-end", "--lines=1", "--unit=sshd"]);
    let message = b"\noptions present and query resolved to log files for [filelogged nofile]\ntry without specifying options\n";
    assert_eq!(
        resp.text(),
        String::from_utf8([journal, message.to_vec()].concat()).unwrap()
    );
}

#[test]
fn u_m_methods() {
    expect(
        "GET",
        "/logs?sinceTime=invalid",
        400,
        "sinceTime: Invalid value: \"invalid\": invalid time format\n",
    ); // U-M1
    expect(
        "POST",
        "/logs?sinceTime=invalid",
        400,
        "sinceTime: Invalid value: \"invalid\": invalid time format\n",
    ); // U-M2
    let resp = http::request(fixture().addr, "PUT", "/logs/?query=kubelet", &[]);
    assert_eq!(
        (resp.status, resp.header("allow"), resp.text().as_str()),
        (405, Some("GET, POST"), "Method not allowed\n")
    ); // U-M3
    let resp = http::request(fixture().addr, "POST", "/logs/", &[]);
    assert_eq!((resp.status, resp.header("allow")), (405, Some("GET"))); // U-M4
    let resp = http::request(fixture().addr, "POST", "/logs/?query=sshd&tailLines=1", &[]);
    assert_eq!(
        resp.body,
        fixture().kubelet_journalctl(&["--pager-end", "--lines=1", "--unit=sshd"])
    );
}

#[test]
fn d_paths_and_files() {
    get("/logs/filelogged.log", 200, logtree::FILELOGGED); // D2
    get("/logs/missing", 404, "404 page not found\n"); // D2
    get(
        "/logs/filelogged.log?query=kubelet",
        406,
        "path not allowed in query mode\n",
    ); // D3
    get(
        "/logs/filelogged.log?query=",
        400,
        "query: Invalid value: [\"\"]: query cannot be empty\n",
    ); // D4
    get(
        "/logs/?query=kubelet&query=/filelogged.log",
        406,
        "query: Invalid value: \"[/filelogged.log], [kubelet]\": cannot specify a file and service\n",
    ); // D5
    get(
        "/logs/?query=/filelogged.log&tailLines=5",
        406,
        "query: Invalid value: [\"/filelogged.log\"]: cannot specify file with options\n",
    ); // D6
    let root = fixture().logs.root.display().to_string();
    get(
        "/logs/?query=/missing.log",
        406,
        &format!(
            "query: Invalid value: [\"/missing.log\"]: stat {root}/missing.log: no such file or directory\n"
        ),
    ); // D7
    get("/logs/?query=/filelogged.log", 200, logtree::FILELOGGED); // D8
    get("/logs/?query=filelogged.log", 200, logtree::FILELOGGED); // foo.log without a slash: a service, then the fallback
}
