//! A connector for a small JSON REST API, the book's second tutorial, written only
//! through `connector-sdk`'s public API (feature `http`):
//!
//! - **`items`** (source): reads the API's items page by page (`GET /items?after=ID`),
//!   oldest first, and keeps its position as state (`{"after": ID}`): a run given the
//!   previous run's state (`run --state FILE`) goes on after the last item delivered.
//!   The API has no "mark as read", so nothing is committed on the server.
//! - **`create`** (target): creates one item per request (`POST /items`), reporting
//!   each result the moment it is known; a refused request fails alone.
//!
//! Errors, retries and rate limits come from the SDK's HTTP client: `401` is `auth`,
//! `429` waits for `Retry-After` and tries again, `5xx` is retried with backoff.
//!
//! ```
//! use connector_sdk::prelude::*;
//! let spec = connector_sdk::Manifest::of(&rest_connector::RestConnector);
//! assert_eq!(spec.name, "rest");
//! ```

use connector_sdk::http::Client;
use connector_sdk::prelude::*;
use connector_sdk::types::{Duration, NonEmptyString, Url};

const TARGET: &str = "rest_connector";

// ANCHOR: settings
#[connector_sdk::settings]
/// Where the API is and how to log in.
pub struct RestSettings {
    /// The API's base URL (`https://api.example.com/v1`).
    pub base_url: Url,
    /// The API token, sent as `Authorization: Bearer …`.
    pub token: Secret,
    /// How long one request may take (`"30s"`, `"2m"`).
    #[serde(default = "thirty_seconds")]
    pub timeout: Duration,
}

fn thirty_seconds() -> Duration {
    std::time::Duration::from_secs(30).into()
}

// ANCHOR_END: settings
// ANCHOR: connection
/// A client for the API.
#[derive(Debug)]
pub struct Api {
    client: Client,
}

#[connector_sdk::connection]
impl Connection for Api {
    async fn check(&self) -> CheckReport {
        let mut report = CheckReport::new();
        let _ = report
            .step("api.items", async {
                // A check reports what happens now: one attempt, no retries.
                let once = self.client.without_retries();
                let page: Page = once.get("/items", &[("limit", "1")]).await?;
                Ok(format!(
                    "reachable, token accepted ({} item on the first page)",
                    page.items.len()
                ))
            })
            .await;
        report
    }
}

// ANCHOR_END: connection
#[connector_sdk::settings]
/// What to read.
pub struct ItemsConfig {
    /// Items per request.
    #[serde(default = "fifty")]
    #[schemars(range(min = 1, max = 100))]
    pub page_size: u32,
    /// Stop after this many items (the rest wait for the next run).
    #[serde(default)]
    pub max_items: Option<u64>,
}

fn fifty() -> u32 {
    50
}

#[connector_sdk::settings(allow_unknown_fields)]
/// One item (fields the API adds later are ignored).
pub struct Item {
    /// The item's id; ids grow with time.
    pub id: u64,
    /// The item's name.
    pub name: String,
}

#[connector_sdk::settings]
#[derive(Default, PartialEq, Eq)]
/// Where the `items` source got to.
pub struct ItemsState {
    /// The id of the last item delivered.
    pub after: u64,
}

#[connector_sdk::settings(allow_unknown_fields)]
/// One page of `GET /items`.
pub struct Page {
    /// The items, by id.
    pub items: Vec<Item>,
    /// The cursor of the next page; absent after the last.
    #[serde(default)]
    pub next: Option<u64>,
}

// ANCHOR: source
/// The `items` source.
#[derive(Debug, Default)]
pub struct ReadItems;

/// Reads the API's items after the state's position, page by page, with a checkpoint
/// after each page.
#[connector_sdk::activity(name = "items")]
impl Source for ReadItems {
    type Connection = Api;
    type Config = ItemsConfig;
    type Record = Item;
    type Ack = u64;
    type State = ItemsState;

    fn validate(&self, config: &ItemsConfig) -> Result<()> {
        match config.max_items {
            Some(0) => Err(Error::config(
                "/max_items",
                "0 would read nothing: leave it out to read everything",
            )),
            _ => Ok(()),
        }
    }

    async fn read(
        &self,
        api: &Api,
        config: &ItemsConfig,
        out: &Emitter<Item, u64, ItemsState>,
    ) -> Result<()> {
        let mut after = out.previous_state().map_or(0, |s| s.after);
        let mut pages = api
            .client
            .pages("/items")
            .query("limit", config.page_size)
            .cursor("after", "/next")
            .start_at(Some(after.to_string()));
        let mut emitted = 0_u64;
        while let Some(page) = pages.next::<Page>().await? {
            for item in page.items {
                if config.max_items.is_some_and(|max| emitted >= max) {
                    out.checkpoint(ItemsState { after }).await?;
                    return Ok(());
                }
                after = after.max(item.id);
                let id = item.id;
                out.emit(item, id).await?;
                emitted += 1;
            }
            // Every item up to `after` was emitted: a later run goes on from here.
            out.checkpoint(ItemsState { after }).await?;
        }
        tracing::debug!(target: TARGET, emitted, after, "read");
        Ok(())
    }

    async fn commit(&self, _: &Api, _: &ItemsConfig, _: Vec<u64>) -> Result<()> {
        // Nothing to mark on the server: the state is the position.
        Ok(())
    }
}

// ANCHOR_END: source
#[connector_sdk::settings]
/// One item to create.
pub struct CreateItem {
    /// Its name.
    pub name: NonEmptyString,
}

#[connector_sdk::settings]
/// What became of one request.
pub struct Created {
    /// The new item's id, when it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Why it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

// ANCHOR: target
/// The `create` target.
#[derive(Debug, Default)]
pub struct CreateItems;

/// Creates one item per request, in order; each result is reported as soon as the API
/// answers, and a refused request fails alone.
#[connector_sdk::activity(name = "create")]
impl Target for CreateItems {
    type Connection = Api;
    type Config = NoConfig;
    type Request = CreateItem;
    type Response = Created;

    async fn call(
        &self,
        api: &Api,
        _: &NoConfig,
        requests: &Requests<CreateItem>,
        results: &Results<Created>,
    ) -> Result<()> {
        while let Some((index, request)) = requests.next() {
            let created = match api.client.post::<_, Item>("/items", &request).await {
                Ok(item) => Created {
                    id: Some(item.id),
                    error: None,
                },
                // Bad credentials fail every request alike: stop, say so once.
                Err(e) if e.kind() == ErrorKind::Auth => return Err(e),
                Err(e) => Created {
                    id: None,
                    error: Some(e.body()),
                },
            };
            results.send(index, created)?;
        }
        Ok(())
    }

    fn failure(&self, result: &Created) -> Option<Error> {
        result.error.clone().map(Error::from)
    }
}

// ANCHOR_END: target
// ANCHOR: connector
/// The connector.
#[derive(Debug, Default, Clone, Copy)]
pub struct RestConnector;

/// A JSON REST API: read its items with cursor state, create items.
#[connector_sdk::connector(name = "rest", activities(ReadItems, CreateItems))]
impl Connector for RestConnector {
    type Settings = RestSettings;
    type Connection = Api;

    async fn connect(&self, settings: RestSettings) -> Result<Api> {
        let client = Client::builder(&settings.base_url)
            .bearer(settings.token)
            .timeout(settings.timeout.get())
            .user_agent(concat!("rest-connector/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api { client })
    }
}
// ANCHOR_END: connector
