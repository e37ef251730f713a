//! Django's `transaction.atomic` and `on_commit`: a money transfer either happens whole or
//! not at all, and what should follow it (a log line, an e-mail, a task) runs only after COMMIT.
//!
//! `cargo run -p example-transactions -- runserver`, then `curl localhost:8000/accounts/`.

use std::sync::atomic::{AtomicUsize, Ordering};

use canter::orm::transaction::{atomic, on_commit};
use canter::orm::{Model, Orm};
use canter::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Model, Serialize, Debug, Clone)]
#[model(app = "bank")]
struct Account {
    id: i64,
    #[field(max_length = 50, unique)]
    name: String,
    balance: i64,
}

#[derive(Deserialize)]
struct Transfer {
    from: String,
    to: String,
    amount: i64,
}

/// Transfers that committed (bumped by `on_commit`, so never by one that rolled back).
static COMMITTED: AtomicUsize = AtomicUsize::new(0);

/// POST `transfer/`: both updates commit together; an overdraft is an `Err`, which rolls the
/// debit back (409).
async fn transfer(Json(t): Json<Transfer>) -> Result<Json<Vec<Account>>> {
    atomic(async {
        let by = |name: &str| Account::objects().filter(Account::name.eq(name.to_owned()));
        by(&t.from)
            .update([Account::balance.set(Account::balance.f() - t.amount)])
            .await?;
        by(&t.to)
            .update([Account::balance.set(Account::balance.f() + t.amount)])
            .await?;
        if by(&t.from).get().await.map_err(|e| e.into_http())?.balance < 0 {
            return Err(Error::new(StatusCode::CONFLICT, "insufficient funds"));
        }
        on_commit(|| {
            COMMITTED.fetch_add(1, Ordering::SeqCst);
            tracing::info!("transfer committed");
        });
        Ok(())
    })
    .await?;
    balances().await
}

/// GET `accounts/`: every account and its balance.
async fn accounts(_req: Request) -> Result<Json<Vec<Account>>> {
    balances().await
}

async fn balances() -> Result<Json<Vec<Account>>> {
    let all = Account::objects().order_by([Account::name.asc()]).await;
    Ok(Json(all.map_err(|e| e.into_http())?))
}

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

fn app() -> App {
    App::new()
        .settings_toml("debug = true\n[databases.default]\nurl = \"sqlite://bank.sqlite3\"")
        .plugin(Orm::new().model::<Account>().migrations_dir(MIGRATIONS))
        .urls(vec![
            path("accounts/", accounts).name("accounts"),
            path("transfer/", transfer)
                .name("transfer")
                .methods([Method::POST]),
        ])
}

fn main() -> std::process::ExitCode {
    app().main()
}

#[cfg(test)]
mod tests {
    use super::*;
    use canter::orm::{migrations::migrate_all, Databases};
    use canter::test::TestClient;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn a_transfer_commits_whole_or_rolls_back_whole() {
        let databases = std::sync::Arc::new(Databases::single("sqlite::memory:").unwrap());
        databases
            .scope(async {
                migrate_all(std::path::Path::new(MIGRATIONS), "default")
                    .await
                    .unwrap();
                for (name, balance) in [("ada", 100), ("bob", 0)] {
                    let account = Account {
                        id: 0,
                        name: name.into(),
                        balance,
                    };
                    Account::objects().create(account).await.unwrap();
                }
                let client = TestClient::new(app());
                let send = |amount| json!({"from": "ada", "to": "bob", "amount": amount});
                let r = client.post_json("/transfer/", &send(30)).await;
                assert_eq!(r.status(), 200, "{}", r.text());
                assert_eq!(COMMITTED.load(Ordering::SeqCst), 1);

                let r = client.post_json("/transfer/", &send(500)).await;
                assert_eq!(r.status(), 409);
                let balances: Value = client.get("/accounts/").await.json();
                assert_eq!(balances[0]["balance"], 70); // the debit was rolled back
                assert_eq!(balances[1]["balance"], 30);
                assert_eq!(COMMITTED.load(Ordering::SeqCst), 1); // on_commit did not run
            })
            .await;
    }
}
