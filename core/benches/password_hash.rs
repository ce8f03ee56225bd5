//! Measures what one password hash and one verification cost with the product's parameters
//! (argon2id m=19 MiB, t=2, p=1). Run: `cargo bench -p area-core --bench password_hash`.

use std::time::{Duration, Instant};

use area_core::accounts::PasswordHasher;

fn main() {
    let hasher = PasswordHasher::default();
    let rounds = 20;
    let mut hash_times = Vec::with_capacity(rounds);
    let mut verify_times = Vec::with_capacity(rounds);
    let mut phc = String::new();
    for _ in 0..rounds {
        let start = Instant::now();
        phc = hasher.hash("correct horse battery staple").expect("hashing works");
        hash_times.push(start.elapsed());
        let start = Instant::now();
        assert!(hasher.verify("correct horse battery staple", &phc));
        verify_times.push(start.elapsed());
    }
    report("hash", &mut hash_times);
    report("verify", &mut verify_times);
    println!("parameters: {}", phc.split('$').nth(3).unwrap_or("?"));
}

fn report(name: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name}: median {:.1} ms, min {:.1} ms, max {:.1} ms over {} runs",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}
