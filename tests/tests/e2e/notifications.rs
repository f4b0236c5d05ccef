//! Event notifications to a webhook the test runs: every create and delete
//! the rules match arrives, in order per key, through failures of the
//! receiver and a restart of the origin (at least once: duplicates are
//! allowed, losses are not).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use bytes::Bytes;
use cairn_tests::{code, TestOrigin};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// A webhook receiver on 127.0.0.1: keeps every body it accepts and
/// answers 500 to the first `fail_first` requests.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(fail_first));
        let (g, f) = (got.clone(), failures.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (g, f) = (g.clone(), f.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (g, f) = (g.clone(), f.clone());
                        async move {
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let fail = {
                                let mut left = f.lock().unwrap();
                                let fail = *left > 0;
                                *left = left.saturating_sub(1);
                                fail
                            };
                            let status = if fail {
                                500
                            } else {
                                g.lock()
                                    .unwrap()
                                    .push(serde_json::from_slice(&body).unwrap());
                                200
                            };
                            Ok::<_, Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { url, got, task }
    }

    /// (event name, key, eTag) of every event received so far.
    fn events(&self) -> Vec<(String, String, Option<String>)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|v| {
                let r = &v["Records"][0];
                (
                    r["eventName"].as_str().unwrap().to_owned(),
                    r["s3"]["object"]["key"].as_str().unwrap().to_owned(),
                    r["s3"]["object"]["eTag"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    /// Waits (at most 20 s) until `want` holds for the events received.
    async fn until(&self, want: impl Fn(&[(String, String, Option<String>)]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let events = self.events();
            if want(&events) {
                return;
            }
            assert!(Instant::now() < deadline, "events so far: {events:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: &'static str) -> String {
    s3.put_object()
        .bucket("photos")
        .key(key)
        .body(ByteStream::from_static(body.as_bytes()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .trim_matches('"')
        .to_owned()
}

async fn configure(s3: &aws_sdk_s3::Client, arn: &str) -> Result<(), String> {
    let rule = QueueConfiguration::builder()
        .id("thumbnails")
        .queue_arn(arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .events(Event::from("s3:ObjectRemoved:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(
                            FilterRule::builder()
                                .name(FilterRuleName::Prefix)
                                .value("img/")
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket("photos")
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(rule)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

/// The events of one key, in the order received, without repeats of the
/// same event back to back (at-least-once may repeat one).
fn of_key(events: &[(String, String, Option<String>)], key: &str) -> Vec<(String, Option<String>)> {
    let mut v: Vec<(String, Option<String>)> = events
        .iter()
        .filter(|e| e.1 == key)
        .map(|e| (e.0.clone(), e.2.clone()))
        .collect();
    v.dedup();
    v
}

#[tokio::test]
async fn webhooks_get_every_matching_change_in_order_across_a_restart() {
    let receiver = Receiver::start(2).await;
    let hook = format!("thumbs={}", receiver.url);
    let origin = TestOrigin::spawn_with(&["--webhooks", &hook]);
    let s3 = origin.client();
    s3.create_bucket().bucket("photos").send().await.unwrap();

    // A target the operator did not configure is refused.
    assert_eq!(
        configure(&s3, "arn:cairn:webhook::elsewhere").await,
        Err("InvalidArgument".into())
    );
    configure(&s3, "arn:cairn:webhook::thumbs").await.unwrap();
    let got = s3
        .get_bucket_notification_configuration()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    let rule = &got.queue_configurations()[0];
    assert_eq!(rule.id(), Some("thumbnails"));
    assert_eq!(rule.queue_arn(), "arn:cairn:webhook::thumbs");

    let a1 = put(&s3, "img/a.jpg", "one").await;
    let b1 = put(&s3, "img/b c.jpg", "bee").await;
    put(&s3, "docs/readme", "not an image").await;
    // Stop the origin the hard way while deliveries may still be pending.
    let dir = origin.kill();
    let origin = TestOrigin::spawn_in(dir, &["--webhooks", &hook]);
    let s3 = origin.client();
    let a2 = put(&s3, "img/a.jpg", "two").await;
    s3.delete_object()
        .bucket("photos")
        .key("img/b c.jpg")
        .send()
        .await
        .unwrap();

    receiver
        .until(|e| of_key(e, "img/b+c.jpg").len() >= 2 && of_key(e, "img/a.jpg").len() >= 2)
        .await;
    let events = receiver.events();
    let created = |etag: &str| ("ObjectCreated:Put".to_owned(), Some(etag.to_owned()));
    assert_eq!(
        of_key(&events, "img/a.jpg"),
        vec![created(&a1), created(&a2)]
    );
    assert_eq!(
        of_key(&events, "img/b+c.jpg"),
        vec![created(&b1), ("ObjectRemoved:Delete".to_owned(), None)]
    );
    assert!(
        of_key(&events, "docs/readme").is_empty(),
        "the prefix filter held"
    );
    let first = receiver.got.lock().unwrap()[0]["Records"][0].clone();
    assert_eq!(first["eventSource"], "cairn:s3");
    assert_eq!(first["s3"]["bucket"]["name"], "photos");
    assert_eq!(first["s3"]["configurationId"], "thumbnails");
    assert_eq!(first["s3"]["object"]["size"], 3);

    // The refused first attempts are visible to operators.
    let text = reqwest::get(format!("{}/metrics", origin.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("cairn_origin_notifications_delivered_total{target=\"thumbs\"}"),
        "{text}"
    );
    // Once the last event is taken, the saved position catches up.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = origin.cli(&["notifications"]);
        if listed.lines().any(|l| l.starts_with("thumbs\t0\t")) {
            break;
        }
        assert!(Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn notification_listeners_and_other_targets_are_not_implemented() {
    let origin = TestOrigin::spawn();
    let s3 = origin.client();
    s3.create_bucket().bucket("photos").send().await.unwrap();
    // MinIO's `?events=` listener is refused, never answered with a listing.
    let url = format!("{}/photos?events=s3:ObjectCreated:*", origin.url);
    let resp = cairn_tests::signed_get(
        &url,
        &origin.addr,
        (cairn_tests::ROOT_AK, cairn_tests::ROOT_SK),
    )
    .await;
    assert_eq!(resp.status(), 501);
    assert!(resp.text().await.unwrap().contains("NotImplemented"));
    // Without webhooks configured, no ARN is valid.
    assert_eq!(
        configure(&s3, "arn:cairn:webhook::thumbs").await,
        Err("InvalidArgument".into())
    );
}
