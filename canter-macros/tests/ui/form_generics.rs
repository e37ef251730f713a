// A form's fields are one static table, so a form is not generic.
#[derive(canter_macros::Form)]
struct NoteForm<T> {
    title: T,
}

fn main() {}
