// `on_delete` is for relations only.
use canter_macros::Model;

#[derive(Model)]
struct Book {
    id: i64,
    #[field(on_delete = "cascade")]
    author_id: i64,
}

fn main() {}
