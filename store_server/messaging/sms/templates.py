"""SMS texts per purpose and language, with the shop's public name, and who may receive which.

Codes go to anyone who asks for one (that is how a phone is confirmed). Welcome, activation replies and
opt-out confirmations answer something the customer just did. Notices and marketing go only to confirmed
customers (consent given, an active card) who did not reply STOP; marketing also needs the opt-in.

The code stands alone between spaces in every language: people (and the demo) pick it out as a word.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ...data.db import cards, customers, sms_opt_outs

LANGUAGES = ("en", "uk", "ru", "kk", "vi")
STOP_WORDS = ("STOP", "СТОП", "STOPP", "ОТПИСКА", "ВІДПИСАТИСЯ", "ТОҚТАТУ", "HUY", "HỦY", "DUNG", "DỪNG", "TC")

# Every text starts with "{shop}: " and never puts the shop's name inside a sentence, where Ukrainian, Russian
# and Kazakh would have to inflect it ("Вітаємо в {shop}" is wrong for most names).
# Length: one SMS part for a 20-character shop name (tests/sms/test_templates_and_delivery.py counts it): 160
# characters in English and Vietnamese, which are written without diacritics as Vietnamese SMS usually are, so
# they stay in the GSM-7 alphabet; 70 in Cyrillic (UCS-2). Only texts with the card page's link take two.
# Amounts come formatted in the shop's currency for the language (loyalty_common.money), so no number meets a
# noun that would need a plural form.
TEMPLATES: dict[str, dict[str, str]] = {
    # a code for a purpose the kiosk has no template for (activation by the operator)
    "code": {
        "en": "{shop}: your code {code} - valid 5 min",
        "uk": "{shop}: ваш код {code} - дійсний 5 хв",
        "ru": "{shop}: ваш код {code} - действует 5 мин",
        "kk": "{shop}: Сіздің кодыңыз: {code} - 5 мин жарамды",
        "vi": "{shop}: ma cua ban {code} - hieu luc 5 phut",
    },
    # self-service at the kiosk: the customer types it on the screen, nobody should ask for it
    "code_register": {
        "en": "{shop}: code {code} - enter it on the kiosk screen to join. Valid 5 min. Tell it to no one",
        "uk": "{shop}: код {code} - введіть його на екрані кіоску",
        "ru": "{shop}: код {code} - введите его на экране киоска",
        "kk": "{shop}: код {code} - киоск экранына енгізіңіз",
        "vi": "{shop}: ma {code} - nhap ma tren man hinh kiosk de dang ky. Hieu luc 5 phut. Khong dua ma cho ai",
    },
    # at the till: the customer tells the cashier the code, and giving it is accepting the programme's terms
    # (the server records the consent from it, operations.apply_register)
    "code_register_till": {
        "en": "{shop}: code {code} - tell it to the cashier to join; giving it means you accept the terms",
        "uk": "{shop}: код {code} - скажіть касиру: це згода з умовами",
        "ru": "{shop}: код {code} скажите кассиру: согласие с условиями",
        "kk": "{shop}: код {code} кассирге: шарттарға келісемін",
        "vi": "{shop}: ma {code} - doc cho thu ngan de dang ky; dua ma nghia la ban dong y dieu khoan",
    },
    "code_identify": {
        "en": "{shop}: code {code} - enter it on the kiosk screen to see your card. Tell it to no one",
        "uk": "{shop}: код {code} - введіть на екрані кіоску",
        "ru": "{shop}: код {code} - введите на экране киоска",
        "kk": "{shop}: код {code} - картаны көру үшін экранға",
        "vi": "{shop}: ma {code} - nhap ma tren man hinh kiosk de xem the. Khong dua ma cho ai",
    },
    # at the till: the code confirms this very amount; the customer tells it to the cashier only to pay it
    "code_redeem": {
        "en": "{shop}: code {code} to pay {amount} with bonuses. Tell it to the cashier only if you pay",
        "uk": "{shop}: код {code} - оплата {amount} бонусами",
        "ru": "{shop}: код {code} - оплата {amount} бонусами",
        "kk": "{shop}: код {code} - бонуспен {amount} төлеу",
        "vi": "{shop}: ma {code} de thanh toan {amount} bang diem thuong. Chi dua ma cho thu ngan neu ban tra",
    },
    "code_sale": {
        "en": "{shop}: code {code} to pay {amount} with bonuses and discount. Tell it to the cashier only if you pay",
        "uk": "{shop}: код {code} - знижка і бонуси {amount}",
        "ru": "{shop}: код {code} - скидка и бонусы {amount}",
        "kk": "{shop}: код {code} - жеңілдік пен бонус {amount}",
        "vi": "{shop}: ma {code} de dung {amount} giam gia va diem thuong. Chi dua ma cho thu ngan neu ban tra",
    },
    "code_discount": {
        "en": "{shop}: code {code} for a discount of {amount}. Tell it to the cashier only if you buy",
        "uk": "{shop}: код {code} - знижка {amount}",
        "ru": "{shop}: код {code} - скидка {amount}",
        "kk": "{shop}: код {code} - жеңілдік {amount}",
        "vi": "{shop}: ma {code} de giam gia {amount}. Chi dua ma cho thu ngan neu ban mua",
    },
    "code_return": {
        "en": "{shop}: code {code} confirms a return of {amount}. Tell it to the cashier only if you return goods",
        "uk": "{shop}: код {code} - повернення на {amount}",
        "ru": "{shop}: код {code} - возврат на {amount}",
        "kk": "{shop}: код {code} - {amount} қайтару",
        "vi": "{shop}: ma {code} xac nhan tra hang {amount}. Chi dua ma cho thu ngan neu ban tra hang",
    },
    "welcome": {
        "en": "{shop}: welcome! Card {card} is active. Reply STOP to get no more messages from us",
        "uk": "{shop}: картку {card} активовано. Відписка: STOP",
        "ru": "{shop}: карта {card} активна. Отписка: STOP",
        "kk": "{shop}: {card} картасы белсенді. Бас тарту: STOP",
        "vi": "{shop}: chao mung! The {card} da kich hoat. Soan STOP de khong nhan tin nua",
    },
    "activation_no_number": {
        "en": "{shop}: send us just the number printed under the barcode of your card, e.g. 10001",
        "uk": "{shop}: надішліть номер з-під штрихкоду, напр. 10001",
        "ru": "{shop}: пришлите номер из-под штрихкода, напр. 10001",
        "kk": "{shop}: штрихкод астындағы нөмірді жіберіңіз: 10001",
        "vi": "{shop}: chi gui so in duoi ma vach cua the, vi du 10001",
    },
    "activation_unknown_card": {
        "en": "{shop}: we have no card {card}. Check the number under the barcode or ask at the till",
        "uk": "{shop}: картки {card} немає. Спитайте на касі",
        "ru": "{shop}: карты {card} нет. Спросите на кассе",
        "kk": "{shop}: {card} картасы жоқ. Кассадан сұраңыз",
        "vi": "{shop}: khong co the {card}. Kiem tra so duoi ma vach hoac hoi thu ngan",
    },
    "activation_phone_has_card": {
        "en": "{shop}: this phone already has card {other}. To move to card {card}, ask at the till",
        "uk": "{shop}: у вас уже є картка {other}. Інша - на касі",
        "ru": "{shop}: у вас есть карта {other}. Другая - на кассе",
        "kk": "{shop}: сізде {other} картасы бар. Басқасы - кассада",
        "vi": "{shop}: so nay da co the {other}. De chuyen sang the {card}, hay hoi thu ngan",
    },
    "activation_card_other_phone": {
        "en": "{shop}: card {card} is registered to another phone. If it is yours, ask at the till",
        "uk": "{shop}: картка на іншому номері. Якщо ваша - до каси",
        "ru": "{shop}: карта на другом номере. Если она ваша - на кассу",
        "kk": "{shop}: карта басқа нөмірде. Сіздікі болса - кассаға",
        "vi": "{shop}: the {card} da dang ky so khac. Neu la the cua ban, hay hoi thu ngan",
    },
    "activation_already_active": {
        "en": "{shop}: card {card} is already active on this phone",
        "uk": "{shop}: картка {card} вже активна на цьому телефоні",
        "ru": "{shop}: карта {card} уже активна на этом телефоне",
        "kk": "{shop}: {card} картасы осы телефонда белсенді",
        "vi": "{shop}: the {card} da kich hoat tren so nay",
    },
    "activation_card_blocked": {
        "en": "{shop}: card {card} is blocked. Please ask at the till",
        "uk": "{shop}: картку {card} заблоковано. Спитайте на касі",
        "ru": "{shop}: карта {card} заблокирована, касса поможет",
        "kk": "{shop}: {card} картасы бұғатталған. Кассаға барыңыз",
        "vi": "{shop}: the {card} da bi khoa. Vui long hoi thu ngan",
    },
    "opted_out": {
        "en": "{shop}: you will get no more messages from us, only the codes you ask for",
        "uk": "{shop}: повідомлень більше не буде, лише коди на запит",
        "ru": "{shop}: рассылки больше не будет, только коды по запросу",
        "kk": "{shop}: енді хабарлама келмейді, тек сұраған кодтар",
        "vi": "{shop}: ban se khong nhan tin nhan nua, chi nhan ma khi ban yeu cau",
    },
    "activation_needs_till": {
        "en": "{shop}: card {card} already holds bonuses. To keep them safe, activate it at the till with the card "
              "in hand",
        "uk": "{shop}: картка {card} з бонусами: активуйте на касі",
        "ru": "{shop}: карта {card} с бонусами: активация на кассе",
        "kk": "{shop}: {card} картасында бонус бар: кассаға барыңыз",
        "vi": "{shop}: the {card} da co diem thuong. De bao ve diem, hay kich hoat the tai quay thu ngan "
              "khi mang theo the",
    },
    "activation_code_required": {
        "en": "{shop}: card {card} is activated with the code printed on it. Send: {card} CODE, or ask at the till",
        "uk": "{shop}: надішліть: {card} КОД (код - на картці)",
        "ru": "{shop}: отправьте: {card} КОД (код - на карте)",
        "kk": "{shop}: жіберіңіз: {card} КОД (код картада)",
        "vi": "{shop}: the {card} duoc kich hoat bang ma in tren the. Gui: {card} MA, hoac hoi thu ngan",
    },
    # To the shop's owner when the SMS pumping guard stops codes (store_server/messaging/sms/guard.py).
    "pumping_alert": {
        "en": "{shop}: codes stopped, the shop's limit of {limit} SMS was reached. Check store-server fraud-report",
        "uk": "{shop}: коди зупинено, ліміт магазину {limit} SMS вичерпано. Перевірте store-server fraud-report",
        "ru": "{shop}: коды остановлены, лимит магазина {limit} SMS исчерпан. Проверьте store-server fraud-report",
        "kk": "{shop}: кодтар тоқтатылды, дүкеннің {limit} SMS шегі таусылды. store-server fraud-report тексеріңіз",
        "vi": "{shop}: da dung gui ma, cua hang da dat gioi han {limit} SMS. Kiem tra store-server fraud-report",
    },
    # Transaction notices (shop setting transaction_sms): amounts are money or bonuses as 12.50.
    "notice_accrual": {
        "en": "{shop}: +{points} bonuses on card {card}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: +{points} бонусів на картку {card}, баланс {balance}. Це не ви? Відповідайте НІ",
        "ru": "{shop}: +{points} бонусов на карту {card}, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: {card} картасына +{points} бонус, қалдық {balance}. Бұл сіз емессіз бе? ЖОҚ деп жауап беріңіз",
        "vi": "{shop}: +{points} diem thuong vao the {card}, so du {balance}. Khong phai ban? Tra loi NO",
    },
    "notice_redeem": {
        "en": "{shop}: {points} bonuses spent from card {card}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: з картки {card} списано {points} бонусів, баланс {balance}. Це не ви? Відповідайте НІ",
        "ru": "{shop}: с карты {card} списано {points} бонусов, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: {card} картасынан {points} бонус жұмсалды, қалдық {balance}. Бұл сіз емессіз бе? ЖОҚ деп "
              "жауап беріңіз",
        "vi": "{shop}: da dung {points} diem thuong tu the {card}, so du {balance}. Khong phai ban? Tra loi NO",
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
        "vi": "{shop}: mua {amount}, the {card}: dung diem {spent}, tich luy {points}, so du {balance}. "
              "Khong phai ban? Tra loi NO",
    },
    "notice_return": {
        "en": "{shop}: return {amount}, card {card}: bonuses {points}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: повернення {amount}, картка {card}: бонуси {points}, баланс {balance}. Це не ви? "
              "Відповідайте НІ",
        "ru": "{shop}: возврат {amount}, карта {card}: бонусы {points}, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: қайтару {amount}, {card} картасы: бонустар {points}, қалдық {balance}. Бұл сіз емессіз бе? "
              "ЖОҚ деп жауап беріңіз",
        "vi": "{shop}: tra hang {amount}, the {card}: diem {points}, so du {balance}. Khong phai ban? Tra loi NO",
    },
    "notice_cancel": {
        "en": "{shop}: purchase cancelled, card {card}: bonuses {points}, balance {balance}. Not you? Reply NO",
        "uk": "{shop}: покупку скасовано, картка {card}: бонуси {points}, баланс {balance}. Це не ви? "
              "Відповідайте НІ",
        "ru": "{shop}: покупка отменена, карта {card}: бонусы {points}, баланс {balance}. Это не вы? Ответьте НЕТ",
        "kk": "{shop}: сатып алу болдырылмады, {card} картасы: бонустар {points}, қалдық {balance}. Бұл сіз "
              "емессіз бе? ЖОҚ деп жауап беріңіз",
        "vi": "{shop}: da huy mua hang, the {card}: diem {points}, so du {balance}. Khong phai ban? Tra loi NO",
    },
    "notice_flagged": {
        "en": "{shop}: thank you, the shop's manager will look into it. To block your card, ask at the till",
        "uk": "{shop}: дякуємо, перевіримо. Блокування картки - на касі",
        "ru": "{shop}: спасибо, проверим. Блокировка карты - на кассе",
        "kk": "{shop}: рақмет, тексереміз. Картаны бұғаттау - кассада",
        "vi": "{shop}: cam on, quan ly cua hang se kiem tra. De khoa the, hay hoi thu ngan",
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
        "vi": "{shop}: khach {phone} tra loi NO cho {operation} tren the {card} ({when}, quay {device}, "
              "thu ngan {cashier})",
    },
}
# The purpose of a code -> its text (code_register, code_redeem, ...); "code" for the others.
CODE_TEMPLATES = {purpose: f"code_{purpose}" for purpose in ("register", "identify", "redeem", "sale", "discount",
                                                              "return")}

# The welcome when the shop has a public_url: the card's page link instead of a longer sentence. The link
# ends in a space, never in punctuation a phone would take into the URL. Two parts in Cyrillic (the link
# alone is some 40 characters), one in English and Vietnamese.
WELCOME_WITH_LINK: dict[str, str] = {
    "en": "{shop}: welcome! Card {card}: {link} Reply STOP to opt out",
    "uk": "{shop}: картку {card} активовано {link} Відписатися: STOP",
    "ru": "{shop}: карта {card} активна {link} Отписаться: STOP",
    "kk": "{shop}: {card} картасы белсенді {link} Бас тарту: STOP",
    "vi": "{shop}: chao mung! The {card}: {link} Soan STOP de huy",
}

# Purposes that may go only to confirmed customers who did not opt out.
RESTRICTED = ("notice_accrual", "notice_redeem", "notice_sale", "notice_return", "notice_cancel", "marketing")
# A customer's answer to a transaction notice that says "that was not me".
NO_WORDS = ("NO", "НІ", "НЕТ", "ЖОҚ", "ЖОК", "KHÔNG", "KHONG", "NOT ME")


class TemplateError(ValueError):
    pass


def render(purpose: str, lang: str | None, *, shop: str, conn: Connection | None = None,
           shop_code: str | None = None, **values: object) -> str:
    """The text for `purpose` in `lang` (falling back to English), with the shop's public name.

    With `conn`, the owner's own text and the shop's name in that language (messaging/sms/texts.py) are used
    when the back office set them; without, the built-in text. `shop_code`: the shop of a chain the text speaks
    for, whose own name (store_server/shops.py) comes before the chain's names per language."""
    if purpose not in TEMPLATES:
        raise TemplateError(f"no SMS template for {purpose!r}")
    lang = lang if lang in LANGUAGES else "en"
    if purpose == "welcome" and values.get("link"):  # digital_card.card_link: only when the shop has public_url
        purpose = "welcome_link"
    if conn is not None:
        from ...shops import own_public_name
        from . import texts

        template = texts.in_force(conn, purpose, lang)
        shop = own_public_name(conn, shop_code, lang) or texts.public_name(conn, lang, shop)
    else:
        table = WELCOME_WITH_LINK if purpose == "welcome_link" else TEMPLATES[purpose]
        template = table.get(lang) or table["en"]
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
