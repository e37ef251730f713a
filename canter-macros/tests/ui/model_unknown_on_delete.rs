// `on_delete` names one of Django's behaviours. `ForeignKey` is a stand-in: the macro matches
// the type's last segment.
use canter_macros::Model;

struct ForeignKey<T>(T);
struct Author;

#[derive(Model)]
struct Book {
    id: i64,
    #[field(on_delete = "delete")]
    author: ForeignKey<Author>,
}

fn main() {}
