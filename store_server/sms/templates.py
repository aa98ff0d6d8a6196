"""SMS texts per purpose and language, with the shop's public name, and who may receive which.

Codes go to anyone who asks for one (that is how a phone is confirmed). Welcome, activation replies and
opt-out confirmations answer something the customer just did. Notices and marketing go only to confirmed
customers (consent given, an active card) who did not reply STOP; marketing also needs the opt-in.

The code stands alone between spaces in every language: people (and the demo) pick it out as a word.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ..db import cards, customers, sms_opt_outs

LANGUAGES = ("en", "uk", "ru", "kk")
STOP_WORDS = ("STOP", "СТОП", "STOPP", "ОТПИСКА", "ВІДПИСАТИСЯ", "ТОҚТАТУ")

TEMPLATES: dict[str, dict[str, str]] = {
    "code": {
        "en": "{shop}: your code {code} - tell it only to the cashier, valid 5 min",
        "uk": "{shop}: ваш код {code} - кажіть його лише касиру, дійсний 5 хв",
        "ru": "{shop}: ваш код {code} - сообщите его только кассиру, действует 5 мин",
        "kk": "{shop}: Сіздің кодыңыз: {code} - оны тек кассирге айтыңыз, 5 мин жарамды",
    },
    "welcome": {
        "en": "Welcome to {shop}! Card {card} is active. Reply STOP to get no more messages from us",
        "uk": "Вітаємо в {shop}! Картку {card} активовано. Щоб не отримувати повідомлень, надішліть STOP",
        "ru": "Добро пожаловать в {shop}! Карта {card} активна. Чтобы не получать сообщения, отправьте STOP",
        "kk": "{shop}: қош келдіңіз! {card} картасы белсенді. Хабарлама алмау үшін STOP деп жіберіңіз",
    },
    "activation_no_number": {
        "en": "{shop}: send us just the number printed under the barcode of your card, e.g. 10001",
        "uk": "{shop}: надішліть нам лише номер під штрихкодом вашої картки, напр. 10001",
        "ru": "{shop}: отправьте нам только номер под штрихкодом вашей карты, напр. 10001",
        "kk": "{shop}: картаңыздың штрихкоды астындағы нөмірді ғана жіберіңіз, мысалы 10001",
    },
    "activation_unknown_card": {
        "en": "{shop}: we have no card {card}. Check the number under the barcode or ask at the till",
        "uk": "{shop}: картки {card} немає. Перевірте номер під штрихкодом або зверніться до каси",
        "ru": "{shop}: карты {card} нет. Проверьте номер под штрихкодом или обратитесь на кассу",
        "kk": "{shop}: {card} картасы жоқ. Штрихкод астындағы нөмірді тексеріңіз немесе кассаға жүгініңіз",
    },
    "activation_phone_has_card": {
        "en": "{shop}: this phone already has card {other}. To move to card {card}, ask at the till",
        "uk": "{shop}: до цього телефону вже прив'язана картка {other}. Щоб перейти на {card}, зверніться до каси",
        "ru": "{shop}: к этому телефону уже привязана карта {other}. Чтобы перейти на {card}, обратитесь на кассу",
        "kk": "{shop}: бұл телефонда {other} картасы бар. {card} картасына ауысу үшін кассаға жүгініңіз",
    },
    "activation_card_other_phone": {
        "en": "{shop}: card {card} is registered to another phone. If it is yours, ask at the till",
        "uk": "{shop}: картка {card} зареєстрована на інший телефон. Якщо вона ваша, зверніться до каси",
        "ru": "{shop}: карта {card} зарегистрирована на другой телефон. Если она ваша, обратитесь на кассу",
        "kk": "{shop}: {card} картасы басқа телефонға тіркелген. Егер ол сіздікі болса, кассаға жүгініңіз",
    },
    "activation_already_active": {
        "en": "{shop}: card {card} is already active on this phone",
        "uk": "{shop}: картка {card} вже активна на цьому телефоні",
        "ru": "{shop}: карта {card} уже активна на этом телефоне",
        "kk": "{shop}: {card} картасы осы телефонда белсенді",
    },
    "activation_card_blocked": {
        "en": "{shop}: card {card} is blocked. Please ask at the till",
        "uk": "{shop}: картку {card} заблоковано. Зверніться до каси",
        "ru": "{shop}: карта {card} заблокирована. Обратитесь на кассу",
        "kk": "{shop}: {card} картасы бұғатталған. Кассаға жүгініңіз",
    },
    "opted_out": {
        "en": "{shop}: you will get no more messages from us, only the codes you ask for",
        "uk": "{shop}: ви більше не отримуватимете повідомлень, лише коди, які запитаєте",
        "ru": "{shop}: вы больше не будете получать сообщения, только коды, которые запросите",
        "kk": "{shop}: енді сізге хабарлама келмейді, тек өзіңіз сұраған кодтар",
    },
    "activation_needs_till": {
        "en": "{shop}: card {card} already holds bonuses. To keep them safe, activate it at the till with the card "
              "in hand",
        "uk": "{shop}: на картці {card} вже є бонуси. Щоб їх захистити, активуйте її на касі, показавши картку",
        "ru": "{shop}: на карте {card} уже есть бонусы. Чтобы их защитить, активируйте её на кассе, показав карту",
        "kk": "{shop}: {card} картасында бонустар бар. Оларды қорғау үшін картаны кассада көрсетіп белсендіріңіз",
    },
    "activation_code_required": {
        "en": "{shop}: card {card} is activated with the code printed on it. Send: {card} CODE, or ask at the till",
        "uk": "{shop}: картку {card} активують кодом, надрукованим на ній. Надішліть: {card} КОД, або зверніться "
              "до каси",
        "ru": "{shop}: карту {card} активируют кодом, напечатанным на ней. Отправьте: {card} КОД, или обратитесь "
              "на кассу",
        "kk": "{shop}: {card} картасы онда басылған кодпен белсендіріледі. Жіберіңіз: {card} КОД, немесе кассаға "
              "жүгініңіз",
    },
    # To the shop's owner when the SMS pumping guard stops codes (store_server/sms/guard.py).
    "pumping_alert": {
        "en": "{shop}: codes stopped, the shop's limit of {limit} SMS was reached. Check store-server fraud-report",
        "uk": "{shop}: коди зупинено, ліміт магазину {limit} SMS вичерпано. Перевірте store-server fraud-report",
        "ru": "{shop}: коды остановлены, лимит магазина {limit} SMS исчерпан. Проверьте store-server fraud-report",
        "kk": "{shop}: кодтар тоқтатылды, дүкеннің {limit} SMS шегі таусылды. store-server fraud-report тексеріңіз",
    },
    # Transaction notices (shop setting transaction_sms): amounts are money or bonuses as 12.50.
    "notice_accrual": {
        "en": "{shop}: +{points} bonuses on card {card}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: +{points} бонусів на картку {card}, баланс {balance}. Це не ви? Відповідайте НІ",
        "ru": "{shop}: +{points} бонусов на карту {card}, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: {card} картасына +{points} бонус, қалдық {balance}. Бұл сіз емессіз бе? ЖОҚ деп жауап беріңіз",
    },
    "notice_redeem": {
        "en": "{shop}: {points} bonuses spent from card {card}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: з картки {card} списано {points} бонусів, баланс {balance}. Це не ви? Відповідайте НІ",
        "ru": "{shop}: с карты {card} списано {points} бонусов, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: {card} картасынан {points} бонус жұмсалды, қалдық {balance}. Бұл сіз емессіз бе? ЖОҚ деп "
              "жауап беріңіз",
    },
    "notice_sale": {
        "en": "{shop}: purchase {amount}, card {card}: bonuses paid {spent}, earned {points}, balance {balance}. "
              "Not you? Reply NO",
        "uk": "{shop}: покупка {amount}, картка {card}: оплачено бонусами {spent}, нараховано {points}, "
              "баланс {balance}. Це не ви? Відповідайте НІ",
        "ru": "{shop}: покупка {amount}, карта {card}: оплачено бонусами {spent}, начислено {points}, "
              "баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: сатып алу {amount}, {card} картасы: бонуспен төленді {spent}, есептелді {points}, "
              "қалдық {balance}. Бұл сіз емессіз бе? ЖОҚ деп жауап беріңіз",
    },
    "notice_return": {
        "en": "{shop}: return {amount}, card {card}: bonuses {points}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: повернення {amount}, картка {card}: бонуси {points}, баланс {balance}. Це не ви? "
              "Відповідайте НІ",
        "ru": "{shop}: возврат {amount}, карта {card}: бонусы {points}, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: қайтару {amount}, {card} картасы: бонустар {points}, қалдық {balance}. Бұл сіз емессіз бе? "
              "ЖОҚ деп жауап беріңіз",
    },
    "notice_cancel": {
        "en": "{shop}: purchase cancelled, card {card}: bonuses {points}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: покупку скасовано, картка {card}: бонуси {points}, баланс {balance}. Це не ви? "
              "Відповідайте НІ",
        "ru": "{shop}: покупка отменена, карта {card}: бонусы {points}, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: сатып алу болдырылмады, {card} картасы: бонустар {points}, қалдық {balance}. Бұл сіз "
              "емессіз бе? ЖОҚ деп жауап беріңіз",
    },
    "notice_flagged": {
        "en": "{shop}: thank you, the shop's manager will look into it. To block your card, ask at the till",
        "uk": "{shop}: дякуємо, керівник магазину це перевірить. Щоб заблокувати картку, зверніться до каси",
        "ru": "{shop}: спасибо, руководитель магазина это проверит. Чтобы заблокировать карту, обратитесь на кассу",
        "kk": "{shop}: рақмет, дүкен басшысы мұны тексереді. Картаны бұғаттау үшін кассаға жүгініңіз",
    },
    "owner_alert": {
        "en": "{shop}: customer {phone} replied NO to {operation} on card {card} ({when}, till {device}, "
              "cashier {cashier})",
        "uk": "{shop}: клієнт {phone} відповів НІ на {operation} по картці {card} ({when}, каса {device}, "
              "касир {cashier})",
        "ru": "{shop}: клиент {phone} ответил НЕТ на {operation} по карте {card} ({when}, касса {device}, "
              "кассир {cashier})",
        "kk": "{shop}: клиент {phone} {card} картасы бойынша {operation} операциясына ЖОҚ деп жауап берді "
              "({when}, касса {device}, кассир {cashier})",
    },
}

# The welcome when the shop has a public_url: the card's page link instead of a longer sentence, so the
# Cyrillic (UCS-2, 67 characters a part) texts stay at two parts like the plain welcome. The link ends in
# a space, never in punctuation a phone would take into the URL.
WELCOME_WITH_LINK: dict[str, str] = {
    "en": "Welcome to {shop}! Card {card}: {link} Reply STOP to opt out",
    "uk": "{shop}: картку {card} активовано {link} Відписатися: STOP",
    "ru": "{shop}: карта {card} активна {link} Отписаться: STOP",
    "kk": "{shop}: {card} картасы белсенді {link} Хабарламадан бас тарту: STOP",
}

# Purposes that may go only to confirmed customers who did not opt out.
RESTRICTED = ("notice_accrual", "notice_redeem", "notice_sale", "notice_return", "notice_cancel", "marketing")
# A customer's answer to a transaction notice that says "that was not me".
NO_WORDS = ("NO", "НІ", "НЕТ", "ЖОҚ", "ЖОК", "KHÔNG", "KHONG", "NOT ME")


class TemplateError(ValueError):
    pass


def render(purpose: str, lang: str | None, *, shop: str, **values: object) -> str:
    """The text for `purpose` in `lang` (falling back to English), with the shop's public name."""
    if purpose not in TEMPLATES:
        raise TemplateError(f"no SMS template for {purpose!r}")
    texts = TEMPLATES[purpose]
    if purpose == "welcome" and values.get("link"):  # digital_card.card_link: only when the shop has public_url
        texts = WELCOME_WITH_LINK
    template = texts.get(lang or "en") or texts["en"]
    try:
        return template.format(shop=shop, **values)
    except KeyError as e:
        raise TemplateError(f"template {purpose} needs {e.args[0]}") from e


def format_points(minor_units: int) -> str:
    """Bonuses are kept in minor units; customers read them as 12.50."""
    sign = "-" if minor_units < 0 else ""
    whole, cents = divmod(abs(minor_units), 100)
    return f"{sign}{whole}.{cents:02d}"


def is_no(text: str) -> bool:
    return text.strip().strip(".!").upper() in NO_WORDS


def is_stop(text: str) -> bool:
    return text.strip().strip(".!").upper() in STOP_WORDS


def opted_out(conn: Connection, phone: str) -> bool:
    return conn.execute(select(sms_opt_outs.c.phone).where(sms_opt_outs.c.phone == phone)).first() is not None


def may_send(conn: Connection, phone: str, purpose: str) -> bool:
    """Whether a message of `purpose` may go to `phone` (codes and replies always may)."""
    if purpose not in RESTRICTED:
        return True
    if opted_out(conn, phone):
        return False
    customer = conn.execute(select(customers).where(customers.c.phone == phone)).mappings().first()
    if customer is None or customer["consent_at"] is None:
        return False
    active = conn.execute(select(cards.c.number).where(cards.c.customer_id == customer["id"],
                                                       cards.c.state == "active")).first()
    if active is None:
        return False
    return purpose != "marketing" or bool(customer["marketing_opt_in"])
