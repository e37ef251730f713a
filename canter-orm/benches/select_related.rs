//! `select_related` / `prefetch_related` against the N+1 pattern, on SQLite and PostgreSQL:
//! 1,000 books, each read with its author. Prints the statements run and the median time of
//! each way over several rounds (interleaved, so a noisy machine affects all alike).
//!
//! ```sh
//! cargo bench -p canter-orm --bench select_related            # SQLite, and PostgreSQL if reachable
//! BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p canter-orm --bench select_related
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_orm::schema::create_table;
use canter_orm::{Databases, ForeignKey, Model};

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "benchrel")]
struct Author {
    id: i64,
    #[field(max_length = 50)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "benchrel")]
struct Book {
    id: i64,
    #[field(max_length = 100)]
    title: String,
    author: ForeignKey<Author>,
}

const BOOKS: usize = 1000;
const AUTHORS: usize = 100;
const ROUNDS: usize = 15;

async fn seed() {
    create_table::<Author>("default").await.unwrap();
    create_table::<Book>("default").await.unwrap();
    Book::objects().delete().await.unwrap();
    Author::objects().delete().await.unwrap();
    let authors = Author::objects()
        .bulk_create(
            (0..AUTHORS)
                .map(|i| Author {
                    id: 0,
                    name: format!("Author {i}"),
                })
                .collect(),
        )
        .await
        .unwrap();
    Book::objects()
        .bulk_create(
            (0..BOOKS)
                .map(|i| Book {
                    id: 0,
                    title: format!("Book {i}"),
                    author: ForeignKey::to(&authors[i % AUTHORS]),
                })
                .collect(),
        )
        .await
        .unwrap();
}

async fn n_plus_one() -> usize {
    let books = Book::objects().await.unwrap();
    let mut total = 0;
    for book in &books {
        total += book.author.get().await.unwrap().name.len();
    }
    total
}

async fn select_related() -> usize {
    let books = Book::objects().select_related(Book::author).await.unwrap();
    books
        .iter()
        .map(|b| b.author.cached().unwrap().name.len())
        .sum()
}

async fn prefetch_related() -> usize {
    let books = Book::objects()
        .prefetch_related(Book::author)
        .await
        .unwrap();
    books
        .iter()
        .map(|b| b.author.cached().unwrap().name.len())
        .sum()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn run(label: &str, url: &str) {
    let dbs = Arc::new(Databases::single(url).unwrap());
    dbs.clone()
        .scope(async {
            seed().await;
            let db = canter_orm::database("default").unwrap();
            let mut times: [Vec<Duration>; 3] = Default::default();
            let mut queries = [0u64; 3];
            let mut checksums = [0usize; 3];
            for _ in 0..ROUNDS {
                for (i, way) in ["n+1", "select_related", "prefetch_related"]
                    .iter()
                    .enumerate()
                {
                    let before = db.query_count();
                    let start = Instant::now();
                    checksums[i] = match *way {
                        "n+1" => n_plus_one().await,
                        "select_related" => select_related().await,
                        _ => prefetch_related().await,
                    };
                    times[i].push(start.elapsed());
                    queries[i] = db.query_count() - before;
                }
            }
            assert!(
                checksums.iter().all(|c| *c == checksums[0]),
                "every way reads the same authors"
            );
            let base = median(times[0].clone());
            println!("{label}: {BOOKS} books, {AUTHORS} authors, median of {ROUNDS} rounds");
            for (i, way) in [
                "N+1 (author.get() per book)",
                "select_related (JOIN)",
                "prefetch_related (2 queries)",
            ]
            .iter()
            .enumerate()
            {
                let m = median(times[i].clone());
                println!(
                    "  {way:32} {:>5} queries  {:>9.2} ms  {:>6.1}x faster than N+1",
                    queries[i],
                    m.as_secs_f64() * 1000.0,
                    base.as_secs_f64() / m.as_secs_f64()
                );
            }
        })
        .await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let file = std::env::temp_dir().join("canter-bench-select-related.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    run("SQLite", &format!("sqlite://{}", file.display())).await;
    let pg = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let scoped = format!("{pg}?options=-c%20search_path%3Dcanter_bench_rel");
    let admin = Arc::new(Databases::single(&pg).unwrap());
    let ready = admin
        .scope(async {
            let db = canter_orm::database("default").unwrap();
            match db.pool() {
                canter_orm::backends::Pool::Postgres(p) => {
                    sqlx::query("CREATE SCHEMA IF NOT EXISTS canter_bench_rel")
                        .execute(p)
                        .await
                        .is_ok()
                }
                _ => false,
            }
        })
        .await;
    if ready {
        run("PostgreSQL", &scoped).await;
    } else {
        println!("PostgreSQL: skipped ({pg} not reachable)");
    }
}
