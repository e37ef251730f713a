// A `ManyToMany` field takes only `through`. `ManyToMany` is a stand-in: the macro matches the
// type's last segment.
use canter_macros::Model;

struct ManyToMany<T>(T);
struct Tag;

#[derive(Model)]
struct Post {
    id: i64,
    #[field(related_name = "posts")]
    tags: ManyToMany<Tag>,
}

fn main() {}
