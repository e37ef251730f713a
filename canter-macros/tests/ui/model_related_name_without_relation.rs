// `related_name` is for relations only.
use canter_macros::Model;

#[derive(Model)]
struct Book {
    id: i64,
    #[field(related_name = "books")]
    author_id: i64,
}

fn main() {}
