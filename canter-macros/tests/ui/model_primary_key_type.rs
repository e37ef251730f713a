// A primary key the ORM cannot key rows by is refused at its type: a float key, and an `id`
// the database would number that is no integer.
use canter_macros::Model;

#[derive(Model)]
struct Reading {
    #[field(primary_key)]
    value: f64,
}

#[derive(Model)]
struct Draft {
    id: Option<i64>,
    title: String,
}

fn main() {}
