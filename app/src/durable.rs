//! The page's durable storage: records kept in the browser's IndexedDB,
//! which outlives a reload, a closed tab and a crash (the outbox of
//! messages not yet stored by the server lives here). Each record is a
//! JSON string under a string key; [`all`] returns them in key order.
//!
//! Every operation goes through one queue, served by one task holding one
//! open database: a save and the removal after it happen in that order.
//! Where IndexedDB is missing or refused (some private modes), saves are
//! dropped and [`all`] is empty: the page still works, only without
//! surviving a reload. On the server every call does nothing.
//!
//! Must never import the pages: it knows keys and strings, not messages.

/// The stores of the page's database, one per kind of record.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    /// Chat posts the server has not acknowledged yet.
    Outbox,
}

impl Store {
    #[cfg(feature = "browser")]
    const ALL: [Store; 1] = [Store::Outbox];

    #[cfg(feature = "browser")]
    fn name(self) -> &'static str {
        match self {
            Store::Outbox => "outbox",
        }
    }
}

/// Keeps `value` under `key` (replacing what was there).
pub fn put(store: Store, key: &str, value: String) {
    #[cfg(feature = "browser")]
    browser::send(browser::Op::Put(store, key.to_owned(), value));
    #[cfg(not(feature = "browser"))]
    let _ = (store, key, value);
}

/// Forgets the record under `key`, if any.
pub fn delete(store: Store, key: &str) {
    #[cfg(feature = "browser")]
    browser::send(browser::Op::Delete(store, key.to_owned()));
    #[cfg(not(feature = "browser"))]
    let _ = (store, key);
}

/// Every record of `store`, in key order (after every save asked before).
pub async fn all(store: Store) -> Vec<String> {
    #[cfg(feature = "browser")]
    {
        let (reply, answer) = futures::channel::oneshot::channel();
        browser::send(browser::Op::All(store, reply));
        answer.await.unwrap_or_default()
    }
    #[cfg(not(feature = "browser"))]
    {
        let _ = store;
        Vec::new()
    }
}

#[cfg(feature = "browser")]
mod browser {
    use super::Store;
    use futures::{
        StreamExt,
        channel::{mpsc, oneshot},
    };
    use std::{cell::Cell, rc::Rc};
    use wasm_bindgen::{JsCast, JsValue, closure::Closure};
    use web_sys::{IdbDatabase, IdbRequest, IdbTransactionMode};

    /// The database's name and version: a new store means a new version.
    const DATABASE: &str = "chat";
    const VERSION: u32 = 1;

    pub(super) enum Op {
        Put(Store, String, String),
        Delete(Store, String),
        All(Store, oneshot::Sender<Vec<String>>),
    }

    thread_local! {
        static QUEUE: std::cell::OnceCell<mpsc::UnboundedSender<Op>> = const { std::cell::OnceCell::new() };
    }

    pub(super) fn send(op: Op) {
        let queue = QUEUE.with(|q| {
            q.get_or_init(|| {
                let (queue, ops) = mpsc::unbounded();
                leptos::task::spawn_local(serve(ops));
                queue
            })
            .clone()
        });
        let _ = queue.unbounded_send(op);
    }

    /// Opens the database once, then carries out each operation in turn.
    async fn serve(mut ops: mpsc::UnboundedReceiver<Op>) {
        let db = match open().await {
            Ok(db) => Some(db),
            Err(e) => {
                leptos::logging::warn!("no durable storage here: {e:?}");
                None
            }
        };
        while let Some(op) = ops.next().await {
            let Some(db) = &db else { continue };
            if let Err(e) = apply(db, op).await {
                leptos::logging::warn!("durable storage: {e:?}");
            }
        }
    }

    async fn open() -> Result<IdbDatabase, JsValue> {
        let factory = leptos::prelude::window()
            .indexed_db()?
            .ok_or_else(|| JsValue::from_str("IndexedDB is not available"))?;
        let request = factory.open_with_u32(DATABASE, VERSION)?;
        let opening = request.clone();
        let upgrade = Closure::<dyn FnMut()>::new(move || {
            if let Ok(db) = opening.result() {
                let db: IdbDatabase = db.unchecked_into();
                for store in Store::ALL {
                    if !db.object_store_names().contains(store.name()) {
                        let _ = db.create_object_store(store.name());
                    }
                }
            }
        });
        request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let db = done(&request).await;
        request.set_onupgradeneeded(None);
        Ok(db?.unchecked_into())
    }

    async fn apply(db: &IdbDatabase, op: Op) -> Result<(), JsValue> {
        let (store, mode) = match &op {
            Op::Put(store, ..) | Op::Delete(store, _) => (*store, IdbTransactionMode::Readwrite),
            Op::All(store, _) => (*store, IdbTransactionMode::Readonly),
        };
        let objects = db
            .transaction_with_str_and_mode(store.name(), mode)?
            .object_store(store.name())?;
        match op {
            Op::Put(_, key, value) => {
                done(&objects.put_with_key(&value.into(), &key.into())?).await?;
            }
            Op::Delete(_, key) => {
                done(&objects.delete(&key.into())?).await?;
            }
            Op::All(_, reply) => {
                let values = done(&objects.get_all()?).await?;
                let values = js_sys::Array::from(&values)
                    .iter()
                    .filter_map(|v| v.as_string())
                    .collect();
                let _ = reply.send(values);
            }
        }
        Ok(())
    }

    /// Waits for an IndexedDB request to succeed or fail.
    async fn done(request: &IdbRequest) -> Result<JsValue, JsValue> {
        let (tell, told) = oneshot::channel::<bool>();
        let tell = Rc::new(Cell::new(Some(tell)));
        let on = |succeeded: bool| {
            let tell = tell.clone();
            Closure::<dyn FnMut()>::new(move || {
                if let Some(tell) = tell.take() {
                    let _ = tell.send(succeeded);
                }
            })
        };
        let (success, failure) = (on(true), on(false));
        request.set_onsuccess(Some(success.as_ref().unchecked_ref()));
        request.set_onerror(Some(failure.as_ref().unchecked_ref()));
        let succeeded = told.await.unwrap_or(false);
        request.set_onsuccess(None);
        request.set_onerror(None);
        match succeeded {
            true => request.result(),
            false => Err(request
                .error()
                .ok()
                .flatten()
                .map_or_else(|| JsValue::from_str("request failed"), JsValue::from)),
        }
    }
}
