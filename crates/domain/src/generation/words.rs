//! Words for lobby names: short, lowercase, inoffensive, and easy to read out (colours,
//! animals, places in nature, things).

/// The lobby-name words. Keep them lowercase ASCII, unique, and free of hyphens.
pub(super) const WORDS: &[&str] = &[
    "amber", "anchor", "apple", "arrow", "aspen", "badger", "banjo", "basil", "beacon", "birch",
    "bison", "blaze", "boulder", "breeze", "brook", "cactus", "canyon", "cedar", "cobalt", "comet",
    "copper", "coral", "cosmic", "crane", "crystal", "dawn", "delta", "desert", "dingo", "dolphin",
    "drift", "eagle", "ember", "falcon", "fern", "flint", "forest", "fox", "frost", "galaxy",
    "garnet", "gecko", "glacier", "granite", "harbor", "hazel", "heron", "horizon", "indigo",
    "island", "jade", "jaguar", "jasper", "juniper", "kestrel", "koala", "lagoon", "lantern",
    "lemon", "lotus", "lynx", "maple", "marble", "meadow", "meteor", "mint", "moss", "nebula",
    "nova", "oak", "ocean", "olive", "onyx", "orbit", "otter", "panda", "pebble", "pepper", "pine",
    "planet", "polar", "prism", "quartz", "raven", "reef", "river", "robin", "rocket", "ruby",
    "saffron", "sage", "salmon", "sapphire", "shadow", "sierra", "silver", "sparrow", "spruce",
    "storm", "summit", "sunset", "tango", "thunder", "tiger", "topaz", "tundra", "turbo", "velvet",
    "violet", "walnut", "willow", "zephyr",
];
