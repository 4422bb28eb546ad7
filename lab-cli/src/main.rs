//! `lvs-lab`: the command-line front end.

fn main() {
    println!("lvs-lab");
}
