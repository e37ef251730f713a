//! `atomic` and `on_commit` on every backend: commit, rollback on error and on panic, nested
//! savepoints, callbacks that run only after the outermost commit, and a dropped block.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use canter_orm::schema::create_table;
use canter_orm::transaction::{atomic, in_atomic, on_commit, on_commit_async};
use canter_orm::{Model, OrmError};

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "tx")]
struct Account {
    id: i64,
    #[field(unique, max_length = 20)]
    owner: String,
    balance: i64,
}

fn account(owner: &str, balance: i64) -> Account {
    Account {
        id: 0,
        owner: owner.into(),
        balance,
    }
}

async fn count() -> u64 {
    Account::objects().count().await.unwrap()
}

#[derive(Debug)]
struct Refused;

impl From<OrmError> for Refused {
    fn from(e: OrmError) -> Self {
        panic!("unexpected ORM error: {e}")
    }
}

on_every_backend! {
    async fn commit_and_rollback(vendor) {
        create_table::<Account>("default").await.unwrap();
        let created = atomic(async {
            assert!(in_atomic("default"));
            Account::objects().create(account("ada", 10)).await?;
            Account::objects().create(account("bob", 20)).await
        })
        .await
        .unwrap();
        assert!(created.id > 0);
        assert_eq!(count().await, 2);

        let result: Result<(), Refused> = atomic(async {
            Account::objects().create(account("cy", 30)).await.unwrap();
            assert_eq!(count().await, 3, "the transaction sees its own write");
            Err(Refused)
        })
        .await;
        assert!(result.is_err());
        assert_eq!(count().await, 2, "rolled back on Err");

        let err = atomic(async {
            Account::objects().create(account("dee", 1)).await?;
            Account::objects().create(account("ada", 1)).await // unique violation
        })
        .await
        .unwrap_err();
        assert!(matches!(err, OrmError::Integrity { .. }), "{err}");
        assert_eq!(count().await, 2, "the whole block rolled back");
    }
}

on_every_backend! {
    async fn rollback_on_panic(vendor) {
        create_table::<Account>("default").await.unwrap();
        let task = tokio::spawn(canter_orm::db::current().unwrap().scope(async {
            let _: Result<(), OrmError> = atomic(async {
                Account::objects().create(account("eve", 5)).await?;
                panic!("boom inside atomic");
            })
            .await;
        }));
        assert!(task.await.unwrap_err().is_panic());
        assert_eq!(count().await, 0, "the panic rolled the transaction back");
        // The pool is healthy afterwards.
        Account::objects().create(account("fay", 6)).await.unwrap();
        assert_eq!(count().await, 1);
    }
}

on_every_backend! {
    async fn nested_blocks_are_savepoints(vendor) {
        create_table::<Account>("default").await.unwrap();
        atomic(async {
            Account::objects().create(account("outer", 1)).await?;
            let inner: Result<(), Refused> = atomic(async {
                Account::objects().create(account("inner", 2)).await.unwrap();
                Err(Refused)
            })
            .await;
            assert!(inner.is_err());
            assert_eq!(count().await, 1, "only the savepoint rolled back");
            atomic(async { Account::objects().create(account("inner2", 3)).await }).await?;
            Ok::<_, OrmError>(())
        })
        .await
        .unwrap();
        let owners: Vec<String> = Account::objects().order_by([Account::id.asc()]).await.unwrap().into_iter().map(|a| a.owner).collect();
        assert_eq!(owners, ["outer", "inner2"]);
    }
}

on_every_backend! {
    async fn on_commit_runs_after_the_outermost_commit_only(vendor) {
        create_table::<Account>("default").await.unwrap();
        let log = Arc::new(Mutex::new(Vec::<String>::new()));

        let l = log.clone();
        on_commit(move || l.lock().unwrap().push("outside: at once".into()));
        assert_eq!(log.lock().unwrap().len(), 1);

        let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
        atomic(async move {
            on_commit(move || l1.lock().unwrap().push("outer".into()));
            let _: Result<(), Refused> = atomic(async move {
                on_commit(move || l2.lock().unwrap().push("rolled-back savepoint".into()));
                Err(Refused)
            })
            .await;
            atomic(async move {
                on_commit_async(async move { l3.lock().unwrap().push("released savepoint".into()) });
                Ok::<_, OrmError>(())
            })
            .await?;
            Ok::<_, OrmError>(())
        })
        .await
        .unwrap();
        assert_eq!(*log.lock().unwrap(), ["outside: at once", "outer", "released savepoint"]);

        let fired = Arc::new(AtomicUsize::new(0));
        let f = fired.clone();
        let _: Result<(), Refused> = atomic(async move {
            on_commit(move || {
                f.fetch_add(1, Ordering::SeqCst);
            });
            Err(Refused)
        })
        .await;
        assert_eq!(fired.load(Ordering::SeqCst), 0, "never after a rollback");
    }
}

on_every_backend! {
    async fn a_dropped_block_does_not_leak_its_transaction(vendor) {
        create_table::<Account>("default").await.unwrap();
        let block = atomic(async {
            Account::objects().create(account("ghost", 1)).await?;
            std::future::pending::<()>().await;
            Ok::<_, OrmError>(())
        });
        // Time out the block midway, as a client disconnect would cancel a view.
        assert!(tokio::time::timeout(std::time::Duration::from_millis(200), block).await.is_err());
        assert_eq!(count().await, 0, "the write was never committed");
        // The connection was closed, not returned mid-transaction: later work is unaffected.
        for i in 0..20 {
            Account::objects().create(account(&format!("user{i}"), i)).await.unwrap();
        }
        assert_eq!(count().await, 20);
    }
}

on_every_backend! {
    async fn concurrent_transactions_serialize_correctly(vendor) {
        create_table::<Account>("default").await.unwrap();
        let acct = Account::objects().create(account("shared", 0)).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let id = acct.id;
            let scope = canter_orm::db::current().unwrap();
            tasks.push(tokio::spawn(scope.scope(async move {
                atomic(async move {
                    // Without FOR UPDATE, PostgreSQL's READ COMMITTED would lose updates here.
                    let current = Account::objects().filter(Account::id.eq(id)).select_for_update().get().await?;
                    tokio::task::yield_now().await;
                    Account::objects().filter(Account::id.eq(id)).update([Account::balance.set(current.balance + 1)]).await
                })
                .await
            })));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(Account::objects().filter(Account::id.eq(acct.id)).get().await.unwrap().balance, 10);
        let outside = Account::objects().select_for_update().first().await.unwrap_err().to_string();
        assert!(outside.contains("outside of a transaction"), "{outside}");
    }
}

/// Row locks between two real transactions (PostgreSQL; SQLite locks the whole database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_locked_nowait_and_isolation_on_postgres() {
    let Some(db) = common::postgres().await else {
        return;
    };
    db.run(async {
        create_table::<Account>("default").await.unwrap();
        let a = Account::objects().create(account("locked", 1)).await.unwrap();
        Account::objects().create(account("free", 2)).await.unwrap();
        let (locked_tx, locked_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = tokio::spawn(canter_orm::db::current().unwrap().scope(async move {
            atomic(async move {
                Account::objects().filter(Account::id.eq(a.id)).select_for_update().get().await?;
                locked_tx.send(()).unwrap();
                let _ = release_rx.await;
                Ok::<_, OrmError>(())
            })
            .await
        }));
        locked_rx.await.unwrap();
        let visible = atomic(async {
            Account::objects().order_by([Account::id.asc()]).select_for_update_skip_locked().await
        })
        .await
        .unwrap();
        assert_eq!(visible.iter().map(|a| a.owner.as_str()).collect::<Vec<_>>(), ["free"], "the locked row is skipped");
        let err = atomic(async { Account::objects().filter(Account::id.eq(a.id)).select_for_update_nowait().get().await }).await.unwrap_err();
        assert!(err.to_string().contains("lock"), "NOWAIT fails at once: {err}");
        release_tx.send(()).unwrap();
        holder.await.unwrap().unwrap();

        let level = canter_orm::atomic_isolated("default", canter_orm::Isolation::Serializable, async {
            let rows = Account::objects().raw("SELECT 0::bigint AS id, current_setting('transaction_isolation') AS owner, 0::bigint AS balance", []).await?;
            Ok::<_, OrmError>(rows[0].owner.clone())
        })
        .await
        .unwrap();
        assert_eq!(level, "serializable");
    })
    .await;
    db.finish().await;
}
