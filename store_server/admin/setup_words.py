"""Words of the pages that set the shop up (rules and tiers, cards, settings), kept apart from messages.py so
the pages being built beside them add to their own table; messages.TABLES merges these in."""

from __future__ import annotations

from .i18n import N_

DONE = {
    "rule_created": N_("The rule was created."),
    "rule_saved": N_("The rule was saved. Sales from now on use it."),
    "rule_enabled": N_("The rule is enabled."),
    "rule_disabled": N_("The rule is disabled. It earns nothing from now on."),
    "rule_deleted": N_("The rule was deleted. Its history stays."),
    "tier_created": N_("The tier was created."),
    "tier_saved": N_("The tier was saved."),
    "tier_deleted": N_("The tier was deleted. Its history stays."),
    "card_type_created": N_("The card type was created."),
    "range_issued": N_("The cards were issued."),
    "settings_saved": N_("The settings were saved. Devices get them with their next heartbeat."),
    "settings_unchanged": N_("Nothing was changed."),
}

ERRORS = {
    "bad_rule": N_("The rule does not add up: check its amount, weekdays and dates."),
    "bad_rule_name": N_("A rule's name has 1 to 100 characters."),
    "bad_rule_value": N_("Say how much the rule gives."),
    "bad_rule_window": N_("A time window needs a start and an end that differ."),
    "bad_rule_dates": N_("The rule ends before it starts, or a date is not a date."),
    "bad_percent": N_("Enter a percent from 0 to 100, e.g. 5 or 2.5."),
    "bad_priority": N_("The priority is a whole number; 0 is tried first."),
    "bad_time": N_("Enter the time as HH:MM."),
    "rule_deleted": N_("This rule was deleted; it cannot change any more."),
    "rule_not_found": N_("No such rule."),
    "bad_tier": N_("A tier needs a turnover of 0 or more and a percent from 0 to 100."),
    "bad_tier_name": N_("A tier's name has 1 to 64 characters."),
    "tier_exists": N_("A tier with this name exists already."),
    "tier_not_found": N_("No such tier."),
    "bad_range": N_("The range does not fit: first up to last, at most 1,000,000 cards, and with an EAN-13 prefix "
                    "the numbers must fit in 12 digits."),
    "bad_ean13": N_("An EAN-13 prefix is digits only."),
    "card_type_exists": N_("A card type with this name exists already."),
    "bad_card_type": N_("A discount card takes 0 to 100 %, a bonus card no discount."),
    "bad_card_type_name": N_("A card type's name has 1 to 32 letters, digits, - or _."),
    "card_type_not_found": N_("No such card type."),
    "range_not_found": N_("No such card range."),
    "range_empty": N_("Every number of this range is a card already; nothing was issued."),
    "bad_setting": N_("Some settings were not saved; see below."),
}

ACTIONS = {
    "rule_created": N_("created a rule"),
    "rule_edited": N_("edited a rule"),
    "rule_enabled": N_("enabled a rule"),
    "rule_disabled": N_("disabled a rule"),
    "rule_deleted": N_("deleted a rule"),
    "tier_created": N_("created a tier"),
    "tier_edited": N_("edited a tier"),
    "tier_deleted": N_("deleted a tier"),
    "card_type_created": N_("created a card type"),
    "range_issued": N_("issued a card range"),
    "range_exported": N_("exported a card range for the printer"),
    "setting_changed": N_("changed a setting"),
    "setting_reset": N_("reset a setting to its default"),
}

CHANGES = {
    "created": N_("created"),
    "edited": N_("edited"),
    "enabled": N_("enabled"),
    "disabled": N_("disabled"),
    "deleted": N_("deleted"),
}

OVERLAPS = {
    "alone_first": N_("“%(first)s” applies alone and is tried first: where both fit, “%(second)s” adds nothing."),
    "alone_second": N_("“%(second)s” applies alone, but “%(first)s” is tried first: where both fit, "
                       "“%(second)s” is skipped."),
    "same_priority": N_("“%(first)s” and “%(second)s” have the same priority and one applies alone: where both "
                        "fit, the older rule decides. Give them different priorities."),
}

TABLES = {"done": DONE, "error": ERRORS, "action": ACTIONS, "change": CHANGES}
